"""Reads for strategies; what "anchored" means is `strategies.trace`, evaluated in the database."""

from django.db.models import Count, Q, QuerySet

from .models import BusinessStrategy, CRMStrategy, StrategyStatus
from .trace import anchored_crm_strategy_exists


def crm_strategies_with_trace() -> QuerySet[CRMStrategy]:
    """CRM strategies with `is_anchored` and counts of what they serve and what serves them."""
    return CRMStrategy.objects.select_related("owner").annotate(
        is_anchored=anchored_crm_strategy_exists(),
        business_strategy_count=Count("serves", distinct=True),
        project_count=Count("project_links", distinct=True),
    )


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
