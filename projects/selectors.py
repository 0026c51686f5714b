"""Reads for projects and features. Traceability is a database annotation, never a loop."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from goals.models import GoalStatus
from strategies.models import StrategyStatus

from .models import CRMProject, Feature, FeatureLink, ProjectLink

# The lower half of a chain: a link whose CRM strategy reaches an active goal through an
# active business strategy. Filtering the multi-valued path in one filter() keeps it one join.
_ACTIVE_CHAIN = {
    "crm_strategy__status": StrategyStatus.ACTIVE,
    "crm_strategy__serves__business_strategy__status": StrategyStatus.ACTIVE,
    "crm_strategy__serves__business_strategy__goal__status": GoalStatus.ACTIVE,
}


def project_linked_exists(ref: str = "pk") -> Exists:
    return Exists(ProjectLink.objects.filter(project=OuterRef(ref)))


def project_traceable_exists(ref: str = "pk") -> Exists:
    """True when the project has a link whose chain reaches an active goal."""
    return Exists(ProjectLink.objects.filter(project=OuterRef(ref), **_ACTIVE_CHAIN))


def feature_linked_exists(ref: str = "pk") -> Exists:
    return Exists(FeatureLink.objects.filter(feature=OuterRef(ref)))


def feature_traceable_exists(ref: str = "pk") -> Exists:
    """True when the feature has a link whose chain reaches an active goal."""
    return Exists(FeatureLink.objects.filter(feature=OuterRef(ref), **_ACTIVE_CHAIN))


_MONEY = DecimalField(max_digits=16, decimal_places=2)

BUDGET_CAPABILITY = ExpressionWrapper(
    F("budget_people") + F("budget_process") + F("budget_training") + F("budget_incentives"),
    output_field=_MONEY,
)
BUDGET_TOTAL = ExpressionWrapper(F("budget_technology") + BUDGET_CAPABILITY, output_field=_MONEY)


def _count_subquery(queryset: QuerySet[Any]) -> Coalesce:
    counted = queryset.order_by().values("project_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def projects_with_trace() -> QuerySet[CRMProject]:
    """Projects with their people, `is_linked`, `is_traceable`, budgets and feature counts."""
    features = Feature.objects.filter(project=OuterRef("pk"))
    return CRMProject.objects.select_related(
        "manager", "sponsor", "department", "business_owner"
    ).annotate(
        is_linked=project_linked_exists(),
        is_traceable=project_traceable_exists(),
        budget_capability_total=BUDGET_CAPABILITY,
        budget_sum=BUDGET_TOTAL,
        feature_count=_count_subquery(features),
        features_traced=_count_subquery(features.filter(feature_traceable_exists())),
    )


def project_managers() -> QuerySet[Any]:
    """The people who manage at least one project, by name (the lists' manager filter)."""
    return (
        get_user_model()
        .objects.filter(Exists(CRMProject.objects.filter(manager=OuterRef("pk"))))
        .order_by("first_name", "last_name", "username")
    )


def features_with_trace() -> QuerySet[Feature]:
    """Features with their project, `is_linked` and `is_traceable`."""
    return Feature.objects.select_related("project").annotate(
        is_linked=feature_linked_exists(),
        is_traceable=feature_traceable_exists(),
    )


def project_trace(project: CRMProject) -> list[dict[str, Any]]:
    """Every chain from the project through its CRM strategies and business strategies to goals,
    each element with id, title and status, and whether the chain is traceable. One query."""
    rows = (
        ProjectLink.objects.filter(project=project)
        .values(
            "crm_strategy_id",
            "crm_strategy__title",
            "crm_strategy__status",
            "rationale",
            "weight",
            "crm_strategy__serves__business_strategy_id",
            "crm_strategy__serves__business_strategy__title",
            "crm_strategy__serves__business_strategy__status",
            "crm_strategy__serves__business_strategy__goal_id",
            "crm_strategy__serves__business_strategy__goal__title",
            "crm_strategy__serves__business_strategy__goal__status",
        )
        .order_by("crm_strategy__title", "crm_strategy__serves__business_strategy__title")
    )
    chains = []
    for row in rows:
        crm = {
            "id": row["crm_strategy_id"],
            "title": row["crm_strategy__title"],
            "status": row["crm_strategy__status"],
        }
        bs_id = row["crm_strategy__serves__business_strategy_id"]
        business = None
        goal = None
        if bs_id is not None:
            business = {
                "id": bs_id,
                "title": row["crm_strategy__serves__business_strategy__title"],
                "status": row["crm_strategy__serves__business_strategy__status"],
            }
            goal = {
                "id": row["crm_strategy__serves__business_strategy__goal_id"],
                "title": row["crm_strategy__serves__business_strategy__goal__title"],
                "status": row["crm_strategy__serves__business_strategy__goal__status"],
            }
        traceable = (
            crm["status"] == StrategyStatus.ACTIVE
            and business is not None
            and business["status"] == StrategyStatus.ACTIVE
            and goal is not None
            and goal["status"] == GoalStatus.ACTIVE
        )
        chains.append(
            {
                "crm_strategy": crm,
                "rationale": row["rationale"],
                "weight": row["weight"],
                "business_strategy": business,
                "goal": goal,
                "traceable": traceable,
            }
        )
    return chains


__all__ = [
    "BUDGET_CAPABILITY",
    "BUDGET_TOTAL",
    "feature_linked_exists",
    "feature_traceable_exists",
    "features_with_trace",
    "project_linked_exists",
    "project_trace",
    "project_traceable_exists",
    "projects_with_trace",
]
