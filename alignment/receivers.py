"""Live re-checks: a change to the portfolio queues a re-scan of what it touched.

The domain apps never import the engine; this module listens to their models' save/delete
signals and,
once the transaction commits, queues a task a couple of seconds later
(ALIGNMENT_RECHECK_DELAY_SECONDS). A burst of edits is coalesced: an atomic cache `add` of a
"pending" key per project lets only the first edit queue a task; the task clears the keys
before it reads, so an edit committed after that queues the next one.

Project-level changes (a project, its features, links, metrics, roadmap, check-ins) re-check
that project. Changes higher up the chain (goals, business and CRM strategies, what a CRM
strategy serves, departments) can touch any project, so they queue a full scan, coalesced the
same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from goals.models import BusinessGoal
from projects.models import (
    CRMProject,
    Department,
    Feature,
    FeatureLink,
    ProjectCheckIn,
    ProjectLink,
    RoadmapPhase,
    SuccessMetric,
)
from strategies.models import BusinessStrategy, CRMStrategy, CRMStrategyServes

log = logging.getLogger(__name__)

# How the project of a changed row is found, per model.
PROJECT_OF = {
    CRMProject: lambda obj: obj.pk,
    Feature: lambda obj: obj.project_id,
    ProjectLink: lambda obj: obj.project_id,
    SuccessMetric: lambda obj: obj.project_id,
    RoadmapPhase: lambda obj: obj.project_id,
    ProjectCheckIn: lambda obj: obj.project_id,
}
# FeatureLink needs a join for its project; the feature is usually loaded, so read it there.
CHAIN_MODELS = (BusinessGoal, BusinessStrategy, CRMStrategy, CRMStrategyServes, Department)


def _delay() -> int:
    return int(getattr(settings, "ALIGNMENT_RECHECK_DELAY_SECONDS", 2))


def _pending_ttl() -> int:
    # Long enough to cover the delay and a busy queue; short enough that a lost message
    # only delays the next re-check of that project, never blocks it for good.
    return _delay() + 120


def queue_project_recheck(project_ids: Iterable[int]) -> None:
    """Queue one re-check for the projects that have none pending (after commit)."""
    from .tasks import recheck_pending_key, recheck_projects

    try:
        fresh = [
            pk
            for pk in sorted(set(project_ids))
            if cache.add(recheck_pending_key(pk), 1, _pending_ttl())
        ]
        if fresh:
            recheck_projects.apply_async(args=[fresh], countdown=_delay())
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
for model in CHAIN_MODELS:
    post_save.connect(_on_chain_changed, sender=model, dispatch_uid=f"align-{model}")
    post_delete.connect(_on_chain_changed, sender=model, dispatch_uid=f"align-d-{model}")
