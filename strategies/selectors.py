"""Reads for strategies; what "anchored" means is `strategies.trace`, evaluated in the database."""

from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery

from .models import BusinessStrategy, CRMStrategy, StrategyStatus
from .trace import anchored_crm_strategy_exists


def _count_per_strategy(relation: str) -> Subquery:
    # A correlated count per row rather than a join and GROUP BY over the whole list: a page
    # of strategies counts its own links through the index, not every link of every strategy.
    counted = CRMStrategy.objects.filter(pk=OuterRef("pk")).annotate(n=Count(relation)).values("n")
    return Subquery(counted, output_field=IntegerField())


def _crm_strategy_figures() -> dict[str, Any]:
    return {
        "is_anchored": anchored_crm_strategy_exists(),
        # Each served business strategy and each linked project appears once (unique links).
        "business_strategy_count": _count_per_strategy("serves"),
        "project_count": _count_per_strategy("project_links"),
    }


def crm_strategies_with_trace() -> QuerySet[CRMStrategy]:
    """CRM strategies with `is_anchored` and counts of what they serve and what serves them."""
    return CRMStrategy.objects.select_related("owner").annotate(**_crm_strategy_figures())


def crm_strategies_to_list() -> QuerySet[CRMStrategy]:
    """CRM strategies as a list filters, orders and paginates them: the figures are aliases,
    computed only where a filter or an ordering names them (counting every project link of
    every strategy otherwise); the page's rows come from `crm_strategies_with_trace`."""
    return CRMStrategy.objects.alias(**_crm_strategy_figures())


def business_strategies_with_counts() -> QuerySet[BusinessStrategy]:
    """Business strategies with their goal and how many CRM strategies serve them."""
    return BusinessStrategy.objects.select_related("goal", "owner").annotate(
        crm_strategy_count=Count("served_by", distinct=True),
        active_crm_strategy_count=Count(
            "served_by",
            filter=Q(served_by__crm_strategy__status=StrategyStatus.ACTIVE),
            distinct=True,
        ),
    )
