"""Celery tasks: thin wrappers over alignment.engine, with plain id arguments.

Every scan task is rerun-safe, so acks_late holds for all of them: a scan's writes are one
transaction, and a redelivered or retried message (same task id) finds its scan's record and
does not run a finished scan again. Around each scan task (`ScanTask`):

- time limits: ALIGNMENT_SCAN_TIME_LIMIT_SECONDS is the scan's own deadline (checked between
  rules and enforced by PostgreSQL's statement_timeout, so it holds on any worker pool); Celery's
  soft and hard limits come a little later, as a backstop where the pool supports them;
- a lost database connection is retried with exponential backoff, up to
  ALIGNMENT_SCAN_MAX_ATTEMPTS starts in all;
- when a task stops for good, its scan's record says why (`engine.give_up`); should even that
  fail, the periodic sweep (`sweep_stale_scans`) ends the scan with the reason.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from core import audit
from core.tasks import DurableTask

from . import engine, notify
from .locks import ScanBusy

log = logging.getLogger(__name__)

# A full scan that finds another running retries after this (an edit's only re-check).
BUSY_RETRY_SECONDS = 30


def _database() -> str:
    # Part of every key, so deployments (or parallel test databases) sharing one cache
    # server never coalesce each other's re-checks away.
    return str(connection.settings_dict["NAME"])


def recheck_pending_key(project_id: int) -> str:
    return f"alignment:{_database()}:recheck-pending:{project_id}"


def group_pending_key(kind: str, group_id: int) -> str:
    """ "A re-check of this group (a manager, department or CRM strategy a project left) is
    pending"."""
    return f"alignment:{_database()}:recheck-group-pending:{kind}:{group_id}"


def full_pending_key() -> str:
    return f"alignment:{_database()}:full-recheck-pending"


def _clear_pending(*keys: str) -> None:
    """Clear "a re-check is pending" marks first: an edit committed from now on queues its own.
    Best effort: with the cache down the marks expire on their own."""
    try:
        cache.delete_many(list(keys))
    except Exception as exc:
        log.warning("Could not clear the pending re-check marks (%s); they expire", exc)


class ScanTask(DurableTask):
    """Base of the scan tasks: time limits, retries on a lost database (core.tasks), a true
    record."""

    autoretry_for = (engine.DatabaseUnavailable,)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Whatever a scan writes is recorded in the history as the scan's, by nobody.
        with audit.recording(channel="scan"):
            return super().__call__(*args, **kwargs)

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        scan_id = kwargs.get("scan_id")
        if scan_id is None and self.name == run_full_scan.name and args:
            scan_id = args[0]
        engine.give_up(task_id=task_id or "", scan_id=scan_id, exc=exc)


@shared_task(bind=True, base=ScanTask)
def run_full_scan(self: Task, scan_id: int | None = None, retry_when_busy: bool = False) -> Any:
    """The periodic (beat) and on-request full scan, in one transaction on this worker.

    `retry_when_busy` is set by an edit higher up the chain (alignment.receivers): the scan it
    queues is that edit's only re-check, and a scan already holding the lock may have read the
    portfolio before the edit committed, so it must not be dropped: it waits (queued, saying
    why) and tries again. A periodic scan that finds another one running is simply skipped (the
    next one comes soon); a requested one is shown to the user as skipped, with the reason."""
    _clear_pending(full_pending_key())
    try:
        scan = engine.scan_full(
            scan_id=scan_id, task_id=self.request.id or "", busy_requeue=retry_when_busy
        )
    except ScanBusy as exc:
        if retry_when_busy:
            raise self.retry(exc=exc, countdown=BUSY_RETRY_SECONDS) from exc
        return scan_id
    return scan.pk if scan else scan_id


@shared_task(bind=True, base=ScanTask)
def recheck_projects(
    self: Task, project_ids: list[int], left_groups: dict[str, list[int]] | None = None
) -> Any:
    """Re-check the projects an edit touched, with their groups and the groups they just left
    (`left_groups`: {"manager" | "department" | "crm_strategy": [ids]})."""
    _clear_pending(
        *(recheck_pending_key(pk) for pk in project_ids),
        *(group_pending_key(kind, pk) for kind, pks in (left_groups or {}).items() for pk in pks),
    )
    try:
        scan = engine.scan_projects(
            project_ids,
            left_groups=left_groups,
            task_id=self.request.id or "",
            busy_requeue=True,
        )
    except ScanBusy as exc:
        raise self.retry(exc=exc, countdown=BUSY_RETRY_SECONDS) from exc
    return scan.pk if scan else None


@shared_task(bind=True, base=DurableTask, autoretry_for=(OperationalError, InterfaceError))
def tell_scan(self: Task, scan_id: int) -> int | None:
    """After a scan that opened flags committed: tell the managers and sponsors of them
    (`notify.tell_scan`). Rerun-safe: a scan is told once."""
    return notify.tell_scan(scan_id)


@shared_task(bind=True, base=DurableTask)
def take_snapshot(self: Task, scan_id: int) -> int | None:
    """The figures of a full scan whose own task stopped after its flags committed
    (`engine.take_snapshot`). Rerun-safe: a scan has one snapshot. Without the database it
    returns None, and the next sweep queues it again."""
    snapshot = engine.take_snapshot(scan_id)
    return snapshot.pk if snapshot else None


@shared_task(acks_late=True, ignore_result=True)
def sweep_stale_scans() -> int:
    """End the scans that can no longer finish, and queue again the telling of scans, and the
    snapshot of the newest full scan, whose task was lost (beat, every
    ALIGNMENT_SCAN_SWEEP_SECONDS)."""
    ended = engine.sweep_stale_scans()
    grace = datetime.timedelta(seconds=settings.ALIGNMENT_SCAN_SWEEP_SECONDS)
    for scan_id in notify.untold_scans(timezone.now() - grace):
        notify.queue_tell_scan(scan_id)
    for scan_id in engine.snapshots_missing(timezone.now() - grace):
        try:
            take_snapshot.delay(scan_id)
        except Exception:
            log.exception("Could not queue scan %s's snapshot; the next sweep will", scan_id)
    return ended
