"""Live re-checks: a change to the portfolio queues a re-scan of what it touched.

The domain apps never import the engine; this module listens to their models' save/delete
signals and, once the transaction commits, queues a task a couple of seconds later
(ALIGNMENT_RECHECK_DELAY_SECONDS). A burst of edits is coalesced: an atomic cache `add` of a
"pending" key per project lets only the first edit queue a task; the task clears the keys
before it reads, so an edit committed after that queues the next one.

Project-level changes (a project, its features, links, metrics, roadmap, check-ins) re-check
that project. An edit that takes a project out of a group — another manager or department, a
link to a CRM strategy removed or moved, the project deleted — also names the group it left, so
the re-check looks at it too (it may no longer be overloaded) without looking at every group.

Changes higher up the chain (goals, business and CRM strategies, what a CRM strategy serves,
departments) can touch any project, so they queue a full scan, coalesced the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from goals.models import BusinessGoal
from projects.models import (
    CRMProject,
    Department,
    Feature,
    FeatureLink,
    MetricReading,
    ProjectCheckIn,
    ProjectLink,
    ProjectSystem,
    ProjectUserGroup,
    RoadmapPhase,
    SuccessMetric,
    UserGroup,
)
from strategies.models import BusinessStrategy, CRMStrategy, CRMStrategyServes

from .models import SubjectType

log = logging.getLogger(__name__)

# How the project of a changed row is found, per model.
PROJECT_OF = {
    CRMProject: lambda obj: obj.pk,
    Feature: lambda obj: obj.project_id,
    ProjectLink: lambda obj: obj.project_id,
    SuccessMetric: lambda obj: obj.project_id,
    RoadmapPhase: lambda obj: obj.project_id,
    ProjectCheckIn: lambda obj: obj.project_id,
    ProjectUserGroup: lambda obj: obj.project_id,
    # The integration register and benefits review (project.integration_unplanned,
    # project.benefits_unreviewed) are about the project the row belongs to.
    ProjectSystem: lambda obj: obj.project_id,
    MetricReading: lambda obj: _reading_project(obj),
}
# FeatureLink needs a join for its project; the feature is usually loaded, so read it there.


def _reading_project(reading: MetricReading) -> int | None:
    """The project of a metric reading: from its metric when loaded (the services load it),
    else one query (a cascade from a deleted metric or project)."""
    metric = reading._state.fields_cache.get("metric")
    if metric is not None:
        return metric.project_id
    return (
        SuccessMetric.objects.filter(pk=reading.metric_id)
        .values_list("project_id", flat=True)
        .first()
    )


CHAIN_MODELS = (
    BusinessGoal,
    BusinessStrategy,
    CRMStrategy,
    CRMStrategyServes,
    Department,
    UserGroup,
)


def _delay() -> int:
    return int(getattr(settings, "ALIGNMENT_RECHECK_DELAY_SECONDS", 2))


def _pending_ttl() -> int:
    # Long enough to cover the delay and a busy queue; short enough that a lost message
    # only delays the next re-check of that project, never blocks it for good.
    return _delay() + 120


def queue_project_recheck(
    project_ids: Iterable[int], left_groups: dict[str, list[int]] | None = None
) -> None:
    """Queue one re-check for the projects, and the groups they left, that have none pending
    (after commit)."""
    from .tasks import group_pending_key, recheck_pending_key, recheck_projects

    try:
        ttl = _pending_ttl()
        fresh = [
            pk for pk in sorted(set(project_ids)) if cache.add(recheck_pending_key(pk), 1, ttl)
        ]
        fresh_groups = {
            kind: fresh_ids
            for kind, ids in sorted((left_groups or {}).items())
            if (
                fresh_ids := [
                    pk for pk in sorted(set(ids)) if cache.add(group_pending_key(kind, pk), 1, ttl)
                ]
            )
        }
        if fresh or fresh_groups:
            recheck_projects.apply_async(args=[fresh, fresh_groups], countdown=_delay())
    except Exception:
        # A queue or cache outage must not break the user's save; the periodic scan catches up.
        log.exception("Could not queue the alignment re-check of projects %s", project_ids)


def queue_full_recheck() -> None:
    """Queue one full scan unless one is already pending (after commit)."""
    from .tasks import full_pending_key, run_full_scan

    try:
        if cache.add(full_pending_key(), 1, _pending_ttl()):
            run_full_scan.apply_async(kwargs={"retry_when_busy": True}, countdown=_delay())
    except Exception:
        log.exception("Could not queue the alignment full re-check")


def _on_project_part_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    if kwargs.get("raw"):  # fixtures: loaddata is not an edit
        return
    if isinstance(instance, FeatureLink):
        project_id = (
            Feature.objects.filter(pk=instance.feature_id)
            .values_list("project_id", flat=True)
            .first()
        )
    else:
        project_id = PROJECT_OF[type(instance)](instance)
    if project_id is None:
        return
    transaction.on_commit(lambda: queue_project_recheck([project_id]))


def _on_chain_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    transaction.on_commit(queue_full_recheck)


def _left(kind: str, old: Any, new: Any) -> dict[str, list[int]]:
    return {str(kind): [old]} if old is not None and old != new else {}


def _on_project_saving(sender: Any, instance: CRMProject, **kwargs: Any) -> None:
    """A project moving to another manager or department leaves its old ones: name them."""
    if kwargs.get("raw") or instance._state.adding or instance.pk is None:
        return
    before = (
        CRMProject.objects.filter(pk=instance.pk).values_list("manager_id", "department_id").first()
    )
    if before is None:
        return
    left = {
        **_left(SubjectType.MANAGER, before[0], instance.manager_id),
        **_left(SubjectType.DEPARTMENT, before[1], instance.department_id),
    }
    if left:
        project_id = instance.pk
        transaction.on_commit(lambda: queue_project_recheck([project_id], left))


def _on_link_saving(sender: Any, instance: ProjectLink, **kwargs: Any) -> None:
    """A link moved to another CRM strategy leaves the old one."""
    if kwargs.get("raw") or instance._state.adding or instance.pk is None:
        return
    before = (
        ProjectLink.objects.filter(pk=instance.pk)
        .values_list("crm_strategy_id", "project_id")
        .first()
    )
    if before is None:
        return
    left = _left(SubjectType.CRM_STRATEGY, before[0], instance.crm_strategy_id)
    if left:
        project_ids = sorted({before[1], instance.project_id} - {None})
        transaction.on_commit(lambda: queue_project_recheck(project_ids, left))


def _on_left_by_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A deleted project leaves its manager and department; a deleted link, its CRM strategy;
    a project no longer naming a user group, that group."""
    if isinstance(instance, CRMProject):
        left = {
            **_left(SubjectType.MANAGER, instance.manager_id, None),
            **_left(SubjectType.DEPARTMENT, instance.department_id, None),
        }
    elif isinstance(instance, ProjectUserGroup):
        left = _left(SubjectType.USER_GROUP, instance.user_group_id, None)
    else:
        left = _left(SubjectType.CRM_STRATEGY, instance.crm_strategy_id, None)
    if left:
        project_id = instance.pk if isinstance(instance, CRMProject) else instance.project_id
        transaction.on_commit(lambda: queue_project_recheck([project_id], left))


def _on_m2m_changed(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    """`.add()` / `.set()` on a link relation (the services write link rows, which post_save
    covers; this catches direct use of the many-to-many managers)."""
    if not action.startswith("post_"):
        return
    if isinstance(instance, CRMProject):
        project_ids = [instance.pk]
    elif isinstance(instance, Feature):
        project_ids = [instance.project_id]
    else:
        transaction.on_commit(queue_full_recheck)
        return
    transaction.on_commit(lambda: queue_project_recheck(project_ids))


for relation in (
    CRMProject.crm_strategies.through,
    Feature.crm_strategies.through,
    CRMStrategy.business_strategies.through,
):
    m2m_changed.connect(_on_m2m_changed, sender=relation, dispatch_uid=f"align-m2m-{relation}")
for model in (*PROJECT_OF, FeatureLink):
    post_save.connect(_on_project_part_changed, sender=model, dispatch_uid=f"align-{model}")
    post_delete.connect(_on_project_part_changed, sender=model, dispatch_uid=f"align-d-{model}")
pre_save.connect(_on_project_saving, sender=CRMProject, dispatch_uid="align-left-project")
pre_save.connect(_on_link_saving, sender=ProjectLink, dispatch_uid="align-left-link")
for model in (CRMProject, ProjectLink, ProjectUserGroup):
    post_delete.connect(_on_left_by_delete, sender=model, dispatch_uid=f"align-left-d-{model}")
for model in CHAIN_MODELS:
    post_save.connect(_on_chain_changed, sender=model, dispatch_uid=f"align-{model}")
    post_delete.connect(_on_chain_changed, sender=model, dispatch_uid=f"align-d-{model}")
