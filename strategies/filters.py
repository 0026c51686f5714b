"""The filters and orderings of business and CRM strategies: one FilterSet per resource, used by
the strategy list pages and by /api/business-strategies/ and /api/crm-strategies/ alike."""

from __future__ import annotations

import django_filters

from core.filters import BooleanFilter, FilterSet, OrderingFilter, PersonFilter
from goals.models import BusinessGoal

from .models import BusinessStrategy, CRMStrategy, StrategyStatus

# Name → ORDER BY fields; "-name" reverses them. The pages' column headers use these names.
BUSINESS_STRATEGY_ORDERINGS = {
    "goal": ("goal__title", "title"),
    "title": ("title",),
    "status": ("status", "title"),
    "crm_strategy_count": ("crm_strategy_count", "title"),
    "created_at": ("created_at",),
    "updated_at": ("updated_at",),
    "id": ("id",),
}


class BusinessStrategyFilterSet(FilterSet):
    """Business strategies by goal, status and owner."""

    goal = django_filters.ModelChoiceFilter(
        queryset=BusinessGoal.objects.order_by("title"), empty_label="Any goal"
    )
    status = django_filters.ChoiceFilter(choices=StrategyStatus.choices, empty_label="Any status")
    owner = PersonFilter()
    ordering = OrderingFilter(orderings=BUSINESS_STRATEGY_ORDERINGS, default="goal")

    class Meta:
        model = BusinessStrategy
        fields = ["goal", "status", "owner"]


CRM_STRATEGY_ORDERINGS = {
    "title": ("title",),
    "status": ("status", "title"),
    "business_strategy_count": ("business_strategy_count", "title"),
    "project_count": ("project_count", "title"),
    "created_at": ("created_at",),
    "updated_at": ("updated_at",),
    "id": ("id",),
}


class CRMStrategyFilterSet(FilterSet):
    """CRM strategies by status, owner, what they serve and whether they are anchored (serve an
    active business strategy of an active goal; the queryset annotates `is_anchored`)."""

    status = django_filters.ChoiceFilter(choices=StrategyStatus.choices, empty_label="Any status")
    is_anchored = BooleanFilter(
        label="Anchored to an active goal", yes="Anchored", no="Not anchored"
    )
    owner = PersonFilter()
    business_strategy = django_filters.ModelChoiceFilter(
        field_name="serves__business_strategy",
        queryset=BusinessStrategy.objects.order_by("title"),
        empty_label="Any business strategy",
        distinct=True,
    )
    goal = django_filters.ModelChoiceFilter(
        field_name="serves__business_strategy__goal",
        queryset=BusinessGoal.objects.order_by("title"),
        empty_label="Any goal",
        distinct=True,
    )
    ordering = OrderingFilter(orderings=CRM_STRATEGY_ORDERINGS, default="title")

    class Meta:
        model = CRMStrategy
        fields = ["status", "is_anchored", "owner", "business_strategy", "goal"]
