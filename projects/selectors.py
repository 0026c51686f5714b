"""Reads for projects, features and departments. What traceable and off scope mean is
`projects.trace`; these querysets annotate with it, in the database, never a loop."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from .models import CRMProject, Department, Feature
from .trace import (
    feature_linked_exists,
    feature_off_scope_exists,
    feature_traceable_exists,
    project_linked_exists,
    project_traceable_exists,
)

_MONEY = DecimalField(max_digits=16, decimal_places=2)

BUDGET_CAPABILITY = ExpressionWrapper(
    F("budget_people") + F("budget_process") + F("budget_training") + F("budget_incentives"),
    output_field=_MONEY,
)
BUDGET_TOTAL = ExpressionWrapper(F("budget_technology") + BUDGET_CAPABILITY, output_field=_MONEY)


def _count_subquery(queryset: QuerySet[Any]) -> Coalesce:
    counted = queryset.order_by().values("project_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _project_figures() -> dict[str, Any]:
    features = Feature.objects.filter(project=OuterRef("pk"))
    return {
        "is_linked": project_linked_exists(),
        "is_traceable": project_traceable_exists(),
        "budget_capability_total": BUDGET_CAPABILITY,
        "budget_sum": BUDGET_TOTAL,
        "feature_count": _count_subquery(features),
        "features_traced": _count_subquery(features.filter(feature_traceable_exists())),
    }


def projects_with_trace() -> QuerySet[CRMProject]:
    """Projects with their people, `is_linked`, `is_traceable`, budgets and feature counts."""
    return CRMProject.objects.select_related(
        "manager", "sponsor", "department", "business_owner"
    ).annotate(**_project_figures())


def projects_to_list() -> QuerySet[CRMProject]:
    """Projects as a list filters, orders and paginates them: the figures of
    `projects_with_trace` are aliases, computed only where a filter or an ordering names them;
    the page's rows are then read from `projects_with_trace` (core.lists)."""
    return CRMProject.objects.alias(**_project_figures())


def project_managers() -> QuerySet[Any]:
    """The people who manage at least one project, by name (the lists' manager filter)."""
    return (
        get_user_model()
        .objects.filter(Exists(CRMProject.objects.filter(manager=OuterRef("pk"))))
        .order_by("first_name", "last_name", "username")
    )


def departments_matching(text: str, limit: int) -> list[Department]:
    """Up to `limit` departments whose name contains every word of `text`, by name: the
    department picker's suggestions (a page of them, never the whole table)."""
    departments = Department.objects.order_by("name")
    for word in text.split()[:5]:
        departments = departments.filter(name__icontains=word)
    return list(departments[:limit])


def department_named(text: str) -> Department | None:
    """The department `text` names: its name in any case, or its id (what the department
    `<select>` and the API sent). A ValidationError saying what to type instead when none or
    several match; None when blank. On PostgreSQL the name is found through the index
    `department_name_upper`."""
    text = text.strip()
    if not text:
        return None
    # Shorter than 19 digits: fits the id column (a longer number would overflow it).
    as_id = int(text) if text.isdigit() and len(text) < 19 else None
    match = Q(name__iexact=text)
    if as_id is not None:
        match |= Q(pk=as_id)
    candidates = list(Department.objects.filter(match).order_by("name")[:10])
    by_id = [d for d in candidates if d.pk == as_id]
    named = [d for d in candidates if d.pk != as_id or d.name.casefold() == text.casefold()]
    exact = [d for d in named if d.name == text]
    if exact and by_id and exact[0] != by_id[0]:
        raise ValidationError(
            f"“{text}” is the name of one department and the id of another, “{by_id[0].name}”: "
            f"type “{by_id[0].name}” for that one, or {exact[0].pk} (its id) for the one "
            f"called “{text}”.",
            code="ambiguous",
        )
    for tier in (exact, by_id, named):
        if len(tier) == 1:
            return tier[0]
        if len(tier) > 1:
            names = ", ".join(f"“{d.name}”" for d in tier[:5])
            raise ValidationError(
                f"{len(tier)} departments are called “{text}” ({names}): type the name as it "
                "is written.",
                code="ambiguous",
            )
    raise ValidationError(
        f"No department is called “{text}”: type a department's name, or pick one from the "
        "suggestions.",
        code="unknown",
    )


def _feature_figures() -> dict[str, Any]:
    return {
        "is_linked": feature_linked_exists(),
        "is_traceable": feature_traceable_exists(),
        "is_off_scope": feature_off_scope_exists(),
    }


def features_with_trace() -> QuerySet[Feature]:
    """Features with their project, `is_linked`, `is_traceable` and `is_off_scope`."""
    return Feature.objects.select_related("project").annotate(**_feature_figures())


def features_to_list() -> QuerySet[Feature]:
    """Features as a list filters, orders and paginates them (figures as aliases; see
    `projects_to_list`)."""
    return Feature.objects.alias(**_feature_figures())


__all__ = [
    "BUDGET_CAPABILITY",
    "BUDGET_TOTAL",
    "features_to_list",
    "features_with_trace",
    "project_linked_exists",
    "project_traceable_exists",
    "projects_to_list",
    "projects_with_trace",
]
