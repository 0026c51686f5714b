"""The filters and orderings of projects and their parts: one FilterSet per resource, used by
the project list pages (all projects, my projects) and by the API's lists alike."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema_field

from core.filters import BooleanFilter, FilterSet, OrderingFilter, PersonFilter
from core.people import people
from goals.models import BusinessGoal
from strategies.models import BusinessStrategy, CRMStrategy

from .forms import DepartmentField
from .models import (
    CRMProject,
    Department,
    Feature,
    FeaturePriority,
    FeatureStatus,
    Health,
    IntegrationStatus,
    MetricReading,
    PhaseKind,
    ProjectCheckIn,
    ProjectStatus,
    ProjectSystem,
    RoadmapPhase,
    SuccessMetric,
    System,
    UserGroup,
)
from .selectors import PROJECT_FIGURES, project_managers

# Name → ORDER BY fields; "-name" reverses them. The pages' column headers use these names.
PROJECT_ORDERINGS = {
    "title": ("title",),
    "status": ("status", "title"),
    "manager": ("manager__first_name", "manager__last_name", "manager__username", "title"),
    "budget_total": ("budget_sum", "title"),
    "is_traceable": ("is_traceable", "is_linked", "title"),
    "feature_count": ("feature_count", "title"),
    "start_date": ("start_date", "title"),
    "end_date": ("end_date", "title"),
    "created_at": ("created_at",),
    "id": ("id",),
}


# The manager filters offer only people who manage a project.
MANAGERS = people("projects.managers", project_managers, who="managers of a project")


@extend_schema_field(
    {
        "type": "string",
        "description": "A department: its name (any case) or its id. The page's suggestions "
        "come from /departments/.",
    }
)
class DepartmentFilter(django_filters.Filter):
    """A department by name or id (projects.forms.DepartmentField): the page shows a text input
    with suggestions, not a `<select>` of every department."""

    field_class = DepartmentField


class ProjectFilterSet(FilterSet):
    """Projects by status, people, department, the strategies and goals they serve, and whether
    they are linked or traceable (`is_linked`, `is_traceable` and the other figures are aliased
    when a filter or the ordering names them).

    The manager filter takes only people who manage a project: a manager of nothing is not a
    valid choice (400 on the API). People are typed (id, username or name), and so is the
    department (id or name), with suggestions on the page (core.people, /departments/)."""

    status = django_filters.ChoiceFilter(choices=ProjectStatus.choices, empty_label="Any status")
    manager = PersonFilter(people=MANAGERS)
    department = DepartmentFilter()
    is_traceable = BooleanFilter(label="Traceable", yes="Traces to a goal", no="Does not trace")
    is_linked = BooleanFilter(
        label="Linked", yes="Linked to a CRM strategy", no="Linked to nothing"
    )
    owner = PersonFilter(field_name="manager", people=MANAGERS, label="Owner (the manager)")
    sponsor = PersonFilter()
    crm_strategy = django_filters.ModelChoiceFilter(
        field_name="links__crm_strategy",
        queryset=CRMStrategy.objects.order_by("title"),
        empty_label="Any CRM strategy",
        distinct=True,
    )
    business_strategy = django_filters.ModelChoiceFilter(
        field_name="links__crm_strategy__serves__business_strategy",
        queryset=BusinessStrategy.objects.order_by("title"),
        empty_label="Any business strategy",
        distinct=True,
    )
    goal = django_filters.ModelChoiceFilter(
        field_name="links__crm_strategy__serves__business_strategy__goal",
        queryset=BusinessGoal.objects.order_by("title"),
        empty_label="Any goal",
        distinct=True,
    )
    ordering = OrderingFilter(orderings=PROJECT_ORDERINGS, default="title")
    figures = PROJECT_FIGURES

    class Meta:
        model = CRMProject
        fields = [
            "status",
            "manager",
            "department",
            "is_traceable",
            "is_linked",
            "owner",
            "sponsor",
            "crm_strategy",
            "business_strategy",
            "goal",
        ]


FEATURE_ORDERINGS = {
    "project": ("project_id", "position"),
    "title": ("title",),
    "status": ("status", "position"),
    "priority": ("priority", "position"),
    "position": ("position",),
    "created_at": ("created_at",),
    "id": ("id",),
}


class FeatureFilterSet(FilterSet):
    """Features by status, priority, project, its manager, the CRM strategies they serve and
    whether they are linked or traceable."""

    status = django_filters.ChoiceFilter(choices=FeatureStatus.choices)
    priority = django_filters.ChoiceFilter(choices=FeaturePriority.choices)
    project = django_filters.ModelChoiceFilter(queryset=CRMProject.objects.all())
    owner = PersonFilter(
        field_name="project__manager", people=MANAGERS, label="Owner (the manager)"
    )
    crm_strategy = django_filters.ModelChoiceFilter(
        field_name="links__crm_strategy", queryset=CRMStrategy.objects.all(), distinct=True
    )
    is_linked = BooleanFilter()
    is_traceable = BooleanFilter()
    ordering = OrderingFilter(orderings=FEATURE_ORDERINGS, default="project")

    class Meta:
        model = Feature
        fields = [
            "status",
            "priority",
            "project",
            "owner",
            "crm_strategy",
            "is_linked",
            "is_traceable",
        ]


class MetricFilterSet(FilterSet):
    """Success metrics by project."""

    project = django_filters.ModelChoiceFilter(queryset=CRMProject.objects.all())
    ordering = OrderingFilter(
        orderings={"project": ("project_id", "name"), "name": ("name",), "id": ("id",)},
        default="project",
    )

    class Meta:
        model = SuccessMetric
        fields = ["project"]


class PhaseFilterSet(FilterSet):
    """Roadmap phases and milestones by project and kind."""

    project = django_filters.ModelChoiceFilter(queryset=CRMProject.objects.all())
    kind = django_filters.ChoiceFilter(choices=PhaseKind.choices)
    ordering = OrderingFilter(
        orderings={
            "project": ("project_id", "position", "start_date"),
            "position": ("position",),
            "start_date": ("start_date",),
            "id": ("id",),
        },
        default="project",
    )

    class Meta:
        model = RoadmapPhase
        fields = ["project", "kind"]


class CheckInFilterSet(FilterSet):
    """Project check-ins by project and health; newest first within a project."""

    project = django_filters.ModelChoiceFilter(queryset=CRMProject.objects.all())
    health = django_filters.ChoiceFilter(choices=Health.choices)
    ordering = OrderingFilter(
        orderings={
            "project": ("project_id", "-checked_in_on", "-id"),
            "checked_in_on": ("checked_in_on",),
            "id": ("id",),
        },
        default="project",
    )

    class Meta:
        model = ProjectCheckIn
        fields = ["project", "health"]


class DepartmentFilterSet(FilterSet):
    """Departments; `is_it` picks the IT ones."""

    is_it = BooleanFilter()
    ordering = OrderingFilter(
        orderings={"name": ("name",), "id": ("id",)},
        default="name",
    )

    class Meta:
        model = Department
        fields = ["is_it"]


class UserGroupFilterSet(FilterSet):
    """User groups: `name` contains the text; in name, id or project count order."""

    name = django_filters.CharFilter(lookup_expr="icontains", max_length=100, label="Name contains")
    ordering = OrderingFilter(
        orderings={"name": ("name",), "id": ("id",), "project_count": ("project_count", "name")},
        default="name",
    )

    class Meta:
        model = UserGroup
        fields = ["name"]


class SystemFilterSet(FilterSet):
    """Systems of the integration register, by owner."""

    owner = django_filters.NumberFilter(field_name="owner_id")
    ordering = OrderingFilter(orderings={"name": ("name",), "id": ("id",)}, default="name")

    class Meta:
        model = System
        fields = ["owner"]


class ProjectSystemFilterSet(FilterSet):
    """The systems projects touch, by project, system and integration status."""

    project = django_filters.ModelChoiceFilter(queryset=CRMProject.objects.all())
    system = django_filters.ModelChoiceFilter(queryset=System.objects.all())
    status = django_filters.ChoiceFilter(choices=IntegrationStatus.choices)
    ordering = OrderingFilter(
        orderings={"project": ("project_id", "system__name"), "id": ("id",)},
        default="project",
    )

    class Meta:
        model = ProjectSystem
        fields = ["project", "system", "status"]


class MetricReadingFilterSet(FilterSet):
    """Success-metric readings by metric or project; oldest first within a metric."""

    metric = django_filters.ModelChoiceFilter(queryset=SuccessMetric.objects.all())
    project = django_filters.ModelChoiceFilter(
        field_name="metric__project", queryset=CRMProject.objects.all()
    )
    ordering = OrderingFilter(
        orderings={
            "metric": ("metric_id", "recorded_on", "id"),
            "recorded_on": ("recorded_on",),
            "id": ("id",),
        },
        default="metric",
    )

    class Meta:
        model = MetricReading
        fields = ["metric", "project"]
