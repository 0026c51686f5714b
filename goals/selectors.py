"""Reads for goals and KPIs."""

from django.db.models import Count, Prefetch, Q, QuerySet

from core.models import Lifecycle

from .models import KPI, BusinessGoal, KPICheckIn


def goals_with_counts() -> QuerySet[BusinessGoal]:
    """Goals with their owner and how many (active) business strategies and KPIs they have."""
    return BusinessGoal.objects.select_related("owner").annotate(
        business_strategy_count=Count("business_strategies", distinct=True),
        active_business_strategy_count=Count(
            "business_strategies",
            filter=Q(business_strategies__status=Lifecycle.ACTIVE),
            distinct=True,
        ),
        kpi_count=Count("kpis", distinct=True),
    )


def kpis_with_history() -> QuerySet[KPI]:
    """KPIs with their goal and check-ins in date order (for trend lines)."""
    return KPI.objects.select_related("goal").prefetch_related(
        Prefetch("check_ins", queryset=KPICheckIn.objects.order_by("recorded_on", "id"))
    )
