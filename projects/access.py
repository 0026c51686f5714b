"""The one fetch-and-authorise step for projects and the things that belong to them, used by
pages, the API and services (see core.permissions.Gate).

Everyone with a role reads them (anyone else gets 404). Changing one is for whoever may edit
its project — the project's manager, or an admin — judged on the project as *stored*, never on
a copy a form has already changed (a manager handing the project to someone else is still its
manager until the change is saved). Anyone else who can read gets 403.
"""

from typing import Any

from core.permissions import (
    Gate,
    can_edit_project,
    can_manage_departments,
    can_manage_systems,
    can_manage_user_groups,
)

from .models import (
    CRMProject,
    Department,
    Feature,
    MetricReading,
    ProjectCheckIn,
    ProjectSystem,
    RoadmapPhase,
    SuccessMetric,
    System,
    UserGroup,
)

REFUSAL = "Only the project's manager may change it. You can still read everything on it."


def _may_change_part(user: Any, part: Any) -> bool:
    return can_edit_project(user, part.project)


project_for = Gate(CRMProject.objects.all, can_edit_project, REFUSAL)
feature_for = Gate(lambda: Feature.objects.select_related("project"), _may_change_part, REFUSAL)
metric_for = Gate(
    lambda: SuccessMetric.objects.select_related("project"), _may_change_part, REFUSAL
)
phase_for = Gate(lambda: RoadmapPhase.objects.select_related("project"), _may_change_part, REFUSAL)
check_in_for = Gate(
    lambda: ProjectCheckIn.objects.select_related("project"), _may_change_part, REFUSAL
)
user_group_for = Gate(
    UserGroup.objects.all,
    lambda user, _group: can_manage_user_groups(user),
    "Only project managers and executives keep the user groups.",
)
project_system_for = Gate(
    lambda: ProjectSystem.objects.select_related("project", "system"), _may_change_part, REFUSAL
)
metric_reading_for = Gate(
    lambda: MetricReading.objects.select_related("metric__project"),
    lambda user, reading: can_edit_project(user, reading.metric.project),
    REFUSAL,
)
department_for = Gate(
    Department.objects.all,
    lambda user, _department: can_manage_departments(user),
    "Only admins change the departments. You can still read them.",
)
SYSTEM_REFUSAL = "Only admins change the systems catalogue. You can still read it."
system_for = Gate(
    lambda: System.objects.select_related("owner"),
    lambda user, system: can_manage_systems(user),
    SYSTEM_REFUSAL,
)
