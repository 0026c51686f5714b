"""The filters and orderings of goals and KPIs: one FilterSet per resource, used by the goal
list page and by /api/goals/ and /api/kpis/ alike (same parameter names and defaults)."""

from __future__ import annotations

import django_filters

from core.filters import FilterSet, OrderingFilter, PersonFilter

from .models import KPI, BusinessGoal, Direction, GoalStatus, Priority

# Name → ORDER BY fields; "-name" reverses them. The page's column headers use these names.
GOAL_ORDERINGS = {
    "priority": ("priority", "title"),
    "title": ("title",),
    "status": ("status", "title"),
    "horizon_end": ("horizon_end", "title"),
    "business_strategy_count": ("business_strategy_count", "title"),
    "created_at": ("created_at",),
    "updated_at": ("updated_at",),
    "id": ("id",),
}


class GoalFilterSet(FilterSet):
    """Business goals by status, priority and owner."""

    status = django_filters.ChoiceFilter(choices=GoalStatus.choices, empty_label="Any status")
    priority = django_filters.ChoiceFilter(choices=Priority.choices, empty_label="Any priority")
    owner = PersonFilter()
    ordering = OrderingFilter(orderings=GOAL_ORDERINGS, default="priority")

    class Meta:
        model = BusinessGoal
        fields = ["status", "priority", "owner"]


KPI_ORDERINGS = {
    "goal": ("goal_id", "name"),
    "name": ("name",),
    "due_date": ("due_date",),
    "created_at": ("created_at",),
    "id": ("id",),
}


class KPIFilterSet(FilterSet):
    """KPIs by goal, the goal's status or owner, and direction."""

    goal = django_filters.ModelChoiceFilter(queryset=BusinessGoal.objects.all())
    goal_status = django_filters.ChoiceFilter(field_name="goal__status", choices=GoalStatus.choices)
    owner = PersonFilter(field_name="goal__owner")
    direction = django_filters.ChoiceFilter(choices=Direction.choices)
    ordering = OrderingFilter(orderings=KPI_ORDERINGS, default="goal")

    class Meta:
        model = KPI
        fields = ["goal", "goal_status", "owner", "direction"]
