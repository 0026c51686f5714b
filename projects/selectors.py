"""Reads for projects, features and departments. What traceable and off scope mean is
`projects.trace`; these querysets annotate with it, in the database, never a loop."""

import functools
from collections.abc import Callable
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

from .models import (
    LIVE_PROJECT_STATUSES,
    CRMProject,
    Department,
    Feature,
    FeatureLink,
    ProjectLink,
    ProjectUserGroup,
    RoadmapPhase,
    UserGroup,
)
from .trace import (
    feature_linked_exists,
    feature_off_scope_exists,
    feature_traceable_exists,
    link_traceable_exists,
    project_linked_exists,
    project_traceable_exists,
    traced_feature_links_in,
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


def _features_traced() -> Coalesce:
    """How many of the project's features trace: those with a link that traces, each once."""
    traced = (
        FeatureLink.objects.filter(feature__project=OuterRef("pk"))
        .filter(traced_feature_links_in())
        .order_by()
        .values("feature__project")
        .annotate(n=Count("feature_id", distinct=True))
        .values("n")
    )
    return Coalesce(Subquery(traced, output_field=IntegerField()), Value(0))


def _project_counts() -> dict[str, Any]:
    """Budgets and feature counts: figures of the project's own row and its features."""
    return {
        "budget_capability_total": BUDGET_CAPABILITY,
        "budget_sum": BUDGET_TOTAL,
        "feature_count": _count_subquery(Feature.objects.filter(project=OuterRef("pk"))),
        "features_traced": _features_traced(),
    }


def _project_figures() -> dict[str, Any]:
    return {
        "is_linked": project_linked_exists(),
        "is_traceable": project_traceable_exists(),
        **_project_counts(),
    }


def projects_with_trace() -> QuerySet[CRMProject]:
    """Projects with their people, `is_linked`, `is_traceable`, budgets and feature counts."""
    return CRMProject.objects.select_related(
        "manager", "sponsor", "department", "business_owner"
    ).annotate(**_project_figures())


# The figures of `projects_with_trace` a project list's filters and orderings may name: its
# FilterSet aliases one only when a filter or the ordering names it (core.filters.FilterSet).
PROJECT_FIGURES: dict[str, Callable[[], Any]] = {
    "is_linked": project_linked_exists,
    "is_traceable": project_traceable_exists,
    "budget_capability_total": lambda: BUDGET_CAPABILITY,
    "budget_sum": lambda: BUDGET_TOTAL,
    "feature_count": lambda: _project_counts()["feature_count"],
    "features_traced": lambda: _project_counts()["features_traced"],
}


def projects_to_list() -> QuerySet[CRMProject]:
    """Projects as a list filters, orders and paginates them: without figures, which the
    list's FilterSet aliases where a filter or an ordering names one (PROJECT_FIGURES), so SQL
    computes only those; the page's rows are then read with every figure (core.lists)."""
    return CRMProject.objects.all()


def projects_with_figures() -> QuerySet[CRMProject]:
    """Projects with their budgets and feature counts, no people joined and no link figures:
    the API's project list reads its page from this as plain rows, and whether each project is
    linked and traceable from the page's links (`project_links_with_trace`)."""
    return _projects_with_figures().all()


def project_links_with_trace() -> QuerySet[Any]:
    """Project links, oldest first, each with `is_traceable` (its CRM strategy is anchored)."""
    return _project_links_with_trace().all()


# The two querysets above are built once per process and cloned for each use: resolving their
# subqueries costs the busiest endpoint more than running them. They are never evaluated
# themselves, and depend on no setting or request.
@functools.cache
def _projects_with_figures() -> QuerySet[CRMProject]:
    return CRMProject.objects.annotate(**_project_counts())


@functools.cache
def _project_links_with_trace() -> QuerySet[Any]:
    return ProjectLink.objects.annotate(is_traceable=link_traceable_exists()).order_by("id")


def project_managers() -> QuerySet[Any]:
    """The people who manage at least one project, by name (the lists' manager filter)."""
    return (
        get_user_model()
        .objects.filter(Exists(CRMProject.objects.filter(manager=OuterRef("pk"))))
        .order_by("first_name", "last_name", "username")
    )


def user_groups_with_counts() -> QuerySet[UserGroup]:
    """User groups with `project_count`, the live projects naming each (one subquery)."""
    named = (
        ProjectUserGroup.objects.filter(
            user_group=OuterRef("pk"), project__status__in=LIVE_PROJECT_STATUSES
        )
        .order_by()
        .values("user_group")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return UserGroup.objects.annotate(
        project_count=Coalesce(Subquery(named, output_field=IntegerField()), Value(0))
    )


def user_groups_matching(text: str, limit: int) -> list[UserGroup]:
    """Up to `limit` user groups whose name contains every word of `text`, by name: the
    user group picker's suggestions."""
    groups = UserGroup.objects.order_by("name")
    for word in text.split()[:5]:
        groups = groups.filter(name__icontains=word)
    return list(groups[:limit])


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
    "PROJECT_FIGURES",
    "features_to_list",
    "features_with_trace",
    "project_linked_exists",
    "project_links_with_trace",
    "project_traceable_exists",
    "projects_to_list",
    "projects_with_figures",
    "projects_with_trace",
]


def first_go_live_of(project: Any) -> Any:
    """The project's first go-live: the earliest start date of its go-live milestones (None
    without a dated one), as `project.integration_unplanned` and `benefits_unreviewed` read it."""
    return (
        RoadmapPhase.objects.filter(project=project, go_live=True, start_date__isnull=False)
        .order_by("start_date")
        .values_list("start_date", flat=True)
        .first()
    )
