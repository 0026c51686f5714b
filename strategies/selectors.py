"""Reads for strategies, with traceability done in the database."""

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from goals.models import GoalStatus

from .models import BusinessStrategy, CRMStrategy, CRMStrategyServes, StrategyStatus


def anchored_crm_strategy_exists(crm_strategy_ref: str = "pk") -> Exists:
    """True when the referenced CRM strategy is active and serves an active business strategy
    whose goal is active: the upper half of every chain."""
    return Exists(
        CRMStrategyServes.objects.filter(
            crm_strategy=OuterRef(crm_strategy_ref),
            crm_strategy__status=StrategyStatus.ACTIVE,
            business_strategy__status=StrategyStatus.ACTIVE,
            business_strategy__goal__status=GoalStatus.ACTIVE,
        )
    )


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
