"""The one fetch-and-authorise step for projects and the things that belong to them, used by
pages, the API and services.

Everyone with a role reads them (anyone else gets 404). Changing one is for whoever may edit
its project — the project's manager, or an admin — judged on the project as *stored*, never on
a copy a form has already changed (a manager handing the project to someone else is still its
manager until the change is saved). Anyone else who can read gets 403.
"""

from typing import Any

from core.permissions import can_edit_project, get_for_user

from .models import CRMProject, Feature, RoadmapPhase, SuccessMetric

REFUSAL = "Only the project's manager may change it. You can still read everything on it."


def _may_change_project(user: Any, project: CRMProject) -> bool:
    return can_edit_project(user, project)


def _may_change_part(user: Any, part: Any) -> bool:
    return can_edit_project(user, part.project)


def project_for(
    user: Any,
    project_id: Any,
    *,
    change: bool = False,
    refusal: str = REFUSAL,
    for_update: bool = False,
) -> CRMProject:
    """The project, if the user may see it (and change it, with `change`); else 404 / 403."""
    return get_for_user(
        CRMProject.objects.all(),
        user,
        pk=project_id,
        may=_may_change_project if change else None,
        refusal=refusal,
        for_update=for_update,
    )


def feature_for(
    user: Any,
    feature_id: Any,
    *,
    change: bool = False,
    refusal: str = REFUSAL,
    for_update: bool = False,
) -> Feature:
    """The feature (with its project), if the user may see it (and change it); else 404 / 403."""
    return get_for_user(
        Feature.objects.select_related("project"),
        user,
        pk=feature_id,
        may=_may_change_part if change else None,
        refusal=refusal,
        for_update=for_update,
    )


def metric_for(
    user: Any,
    metric_id: Any,
    *,
    change: bool = False,
    refusal: str = REFUSAL,
    for_update: bool = False,
) -> SuccessMetric:
    """The success metric (with its project), if the user may see it (and change it); else
    404 / 403."""
    return get_for_user(
        SuccessMetric.objects.select_related("project"),
        user,
        pk=metric_id,
        may=_may_change_part if change else None,
        refusal=refusal,
        for_update=for_update,
    )


def phase_for(
    user: Any,
    phase_id: Any,
    *,
    change: bool = False,
    refusal: str = REFUSAL,
    for_update: bool = False,
) -> RoadmapPhase:
    """The roadmap phase (with its project), if the user may see it (and change it); else
    404 / 403."""
    return get_for_user(
        RoadmapPhase.objects.select_related("project"),
        user,
        pk=phase_id,
        may=_may_change_part if change else None,
        refusal=refusal,
        for_update=for_update,
    )
