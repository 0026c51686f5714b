"""Writes for projects, features, their links to CRM strategies, metrics, roadmap and check-ins."""

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core.permissions import (
    can_create_project,
    can_edit_project,
    is_admin,
)
from core.roles import Role
from core.services import (
    Actor,
    apply_fields,
    require,
    require_people_roles,
    validate_and_save,
)
from strategies.models import CRMStrategy, StrategyStatus

from .models import (
    CRMProject,
    Feature,
    FeatureLink,
    Health,
    ProjectCheckIn,
    ProjectLink,
    ProjectStatus,
    RoadmapPhase,
    SuccessMetric,
)

PROJECT_FIELDS = (
    "title",
    "description",
    "manager",
    "sponsor",
    "department",
    "business_owner",
    "status",
    "start_date",
    "end_date",
    "budget_technology",
    "budget_people",
    "budget_process",
    "budget_training",
    "budget_incentives",
    "integration_notes",
)
FEATURE_FIELDS = ("title", "description", "priority", "status", "position")
METRIC_FIELDS = ("name", "unit", "baseline", "target", "current")
PHASE_FIELDS = ("name", "kind", "start_date", "end_date", "position")


@dataclass(frozen=True)
class LinkSpec:
    """One claimed link: the CRM strategy served, how, and optionally how much."""

    crm_strategy: CRMStrategy
    rationale: str = ""
    weight: int | None = None


# Who may fill a project's person fields: the browser's pickers offer exactly these people.
PROJECT_PEOPLE: dict[str, tuple[Role, ...]] = {
    "manager": (Role.PROJECT_MANAGER,),
    "sponsor": (Role.SPONSOR, Role.EXECUTIVE),
    "business_owner": (),
}


def _edit_allowed(actor: Actor, project: CRMProject) -> None:
    require(can_edit_project(actor, project), "Only the project's manager may change it.")


def _check_status_change(project: CRMProject, old_status: str | None) -> None:
    new = project.status
    if new == old_status:
        return
    # Approval is the sponsor's decision (alignment.services.project_approve, which checks
    # readiness against the rule catalogue), never a field edit.
    if new == ProjectStatus.APPROVED:
        raise ValidationError({"status": "A project is approved by its sponsor; ask for approval."})
    if new == ProjectStatus.ACTIVE and project.approved_at is None:
        raise ValidationError({"status": "A project must be approved before it becomes active."})


@transaction.atomic
def project_create(*, actor: Actor, **fields: Any) -> CRMProject:
    """Create a project; its manager defaults to the project manager creating it."""
    require(can_create_project(actor), "Only project managers create projects.")
    project = CRMProject()
    apply_fields(project, fields, PROJECT_FIELDS)
    if project.manager_id is None:
        project.manager = actor
    elif project.manager_id != actor.pk and not is_admin(actor):
        raise ValidationError({"manager": "You can only create projects you manage yourself."})
    require_people_roles(project, PROJECT_PEOPLE)
    _check_status_change(project, ProjectStatus.PROPOSED)
    return validate_and_save(project)


@transaction.atomic
def project_update(*, project: CRMProject, actor: Actor, **fields: Any) -> CRMProject:
    """Change a project's fields. Status moves except approval (alignment.services)."""
    _edit_allowed(actor, project)
    row = (
        CRMProject.objects.filter(pk=project.pk)
        .values("status", "manager", "sponsor", "business_owner")
        .first()
    )
    old: dict[str, Any] = dict(row) if row else {}
    apply_fields(project, fields, PROJECT_FIELDS)
    require_people_roles(project, PROJECT_PEOPLE, previous=old)
    _check_status_change(project, old.get("status"))
    return validate_and_save(project)


@transaction.atomic
def project_delete(*, project: CRMProject, actor: Actor) -> None:
    """Delete a project that never started; approved or running ones are cancelled instead."""
    _edit_allowed(actor, project)
    if project.approved_at is not None or project.status not in (
        ProjectStatus.PROPOSED,
        ProjectStatus.CANCELLED,
    ):
        raise ValidationError(
            "Cannot delete a project that was approved or has started; set its status to "
            "cancelled instead, so its history stays.",
            code="protected",
        )
    project.delete()


def _set_links(
    *,
    owner_field: str,
    owner: CRMProject | Feature,
    link_model: type[ProjectLink] | type[FeatureLink],
    links: Iterable[LinkSpec],
) -> None:
    specs = {spec.crm_strategy.pk: spec for spec in links}
    existing = {
        link.crm_strategy_id: link for link in link_model.objects.filter(**{owner_field: owner})
    }
    retired = [
        str(spec.crm_strategy)
        for pk, spec in specs.items()
        if pk not in existing and spec.crm_strategy.status == StrategyStatus.RETIRED
    ]
    if retired:
        raise ValidationError(
            {"crm_strategies": f"Retired CRM strategies cannot be linked: {', '.join(retired)}."}
        )
    link_model.objects.filter(**{owner_field: owner}).exclude(crm_strategy_id__in=specs).delete()
    for pk, spec in specs.items():
        link = existing.get(pk) or link_model(
            **{owner_field: owner}, crm_strategy=spec.crm_strategy
        )
        if link.pk and link.rationale == spec.rationale and link.weight == spec.weight:
            continue
        link.rationale = spec.rationale
        link.weight = spec.weight
        validate_and_save(link, exclude=[owner_field, "crm_strategy"])


@transaction.atomic
def project_set_links(
    *, project: CRMProject, actor: Actor, links: Iterable[LinkSpec]
) -> CRMProject:
    """Replace the project's links to CRM strategies with exactly `links`."""
    _edit_allowed(actor, project)
    _set_links(owner_field="project", owner=project, link_model=ProjectLink, links=links)
    return project


@transaction.atomic
def project_link_crm_strategy(
    *,
    project: CRMProject,
    crm_strategy: CRMStrategy,
    actor: Actor,
    rationale: str = "",
    weight: int | None = None,
) -> ProjectLink:
    """Add (or update the rationale of) one link from a project to a CRM strategy."""
    _edit_allowed(actor, project)
    others = [
        LinkSpec(link.crm_strategy, link.rationale, link.weight)
        for link in project.links.select_related("crm_strategy").exclude(crm_strategy=crm_strategy)
    ]
    _set_links(
        owner_field="project",
        owner=project,
        link_model=ProjectLink,
        links=[*others, LinkSpec(crm_strategy, rationale, weight)],
    )
    return ProjectLink.objects.get(project=project, crm_strategy=crm_strategy)


@transaction.atomic
def project_unlink_crm_strategy(
    *, project: CRMProject, crm_strategy: CRMStrategy, actor: Actor
) -> None:
    _edit_allowed(actor, project)
    project.links.filter(crm_strategy=crm_strategy).delete()


@transaction.atomic
def feature_create(*, project: CRMProject, actor: Actor, **fields: Any) -> Feature:
    """Add a feature to the end of a project's list unless a position is given."""
    _edit_allowed(actor, project)
    feature = Feature(project=project)
    apply_fields(feature, fields, FEATURE_FIELDS)
    if "position" not in fields:
        last = project.features.aggregate(last=Max("position"))["last"]
        feature.position = 0 if last is None else last + 1
    return validate_and_save(feature)


@transaction.atomic
def feature_update(*, feature: Feature, actor: Actor, **fields: Any) -> Feature:
    _edit_allowed(actor, feature.project)
    apply_fields(feature, fields, FEATURE_FIELDS)
    return validate_and_save(feature)


@transaction.atomic
def feature_delete(*, feature: Feature, actor: Actor) -> None:
    _edit_allowed(actor, feature.project)
    feature.delete()


@transaction.atomic
def feature_set_links(*, feature: Feature, actor: Actor, links: Iterable[LinkSpec]) -> Feature:
    """Replace the feature's links to CRM strategies with exactly `links`."""
    _edit_allowed(actor, feature.project)
    _set_links(owner_field="feature", owner=feature, link_model=FeatureLink, links=links)
    return feature


@transaction.atomic
def feature_reorder(*, project: CRMProject, actor: Actor, feature_ids: Sequence[int]) -> None:
    """Put the project's features in the given order; the list must name each exactly once."""
    _edit_allowed(actor, project)
    current = set(project.features.values_list("id", flat=True))
    if len(feature_ids) != len(set(feature_ids)) or set(feature_ids) != current:
        raise ValidationError({"features": "List every feature of this project exactly once."})
    features = list(project.features.all())
    order = {pk: index for index, pk in enumerate(feature_ids)}
    for feature in features:
        feature.position = order[feature.pk]
    Feature.objects.bulk_update(features, ["position"])


@transaction.atomic
def metric_create(*, project: CRMProject, actor: Actor, **fields: Any) -> SuccessMetric:
    """Add a success metric; it counts once it has a baseline and a target."""
    _edit_allowed(actor, project)
    metric = SuccessMetric(project=project)
    apply_fields(metric, fields, METRIC_FIELDS)
    return validate_and_save(metric)


@transaction.atomic
def metric_update(*, metric: SuccessMetric, actor: Actor, **fields: Any) -> SuccessMetric:
    _edit_allowed(actor, metric.project)
    apply_fields(metric, fields, METRIC_FIELDS)
    return validate_and_save(metric)


@transaction.atomic
def metric_delete(*, metric: SuccessMetric, actor: Actor) -> None:
    _edit_allowed(actor, metric.project)
    metric.delete()


@transaction.atomic
def phase_create(*, project: CRMProject, actor: Actor, **fields: Any) -> RoadmapPhase:
    """Add a roadmap phase or milestone."""
    _edit_allowed(actor, project)
    phase = RoadmapPhase(project=project)
    apply_fields(phase, fields, PHASE_FIELDS)
    if "position" not in fields:
        last = project.phases.aggregate(last=Max("position"))["last"]
        phase.position = 0 if last is None else last + 1
    return validate_and_save(phase)


@transaction.atomic
def phase_update(*, phase: RoadmapPhase, actor: Actor, **fields: Any) -> RoadmapPhase:
    _edit_allowed(actor, phase.project)
    apply_fields(phase, fields, PHASE_FIELDS)
    return validate_and_save(phase)


@transaction.atomic
def phase_delete(*, phase: RoadmapPhase, actor: Actor) -> None:
    _edit_allowed(actor, phase.project)
    phase.delete()


@transaction.atomic
def project_check_in(
    *,
    project: CRMProject,
    actor: Actor,
    summary: str,
    health: str = Health.ON_TRACK,
    checked_in_on: datetime.date | None = None,
) -> ProjectCheckIn:
    """Record a progress check-in (dated today unless given, never in the future)."""
    _edit_allowed(actor, project)
    today = timezone.localdate()
    # A check-in reports progress made; one dated ahead would keep project.stalled quiet.
    if isinstance(checked_in_on, datetime.date) and checked_in_on > today:
        raise ValidationError(
            {"checked_in_on": "A check-in reports progress so far; it cannot be in the future."}
        )
    check_in = ProjectCheckIn(
        project=project,
        summary=summary,
        health=health,
        checked_in_on=checked_in_on or today,
        author=actor,
    )
    return validate_and_save(check_in)
