"""Celery tasks: thin wrappers over alignment.engine, with plain id arguments.

acks_late (the project default) is safe for all of them: every task is rerun-safe — a scan's
writes are one transaction, a finished scan is not run twice, a finished chunk is recorded and
a split scan's final step runs once however often it is queued.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from . import engine
from .locks import ScanBusy

log = logging.getLogger(__name__)


def _database() -> str:
    # Part of every key, so deployments (or parallel test databases) sharing one cache
    # server never coalesce each other's re-checks away.
    return str(connection.settings_dict["NAME"])


def recheck_pending_key(project_id: int) -> str:
    return f"alignment:{_database()}:recheck-pending:{project_id}"


def full_pending_key() -> str:
    return f"alignment:{_database()}:full-recheck-pending"


def _chunk_size() -> int:
    return int(getattr(settings, "ALIGNMENT_SCAN_CHUNK_SIZE", 0))


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=5)
def run_full_scan(self, scan_id: int | None = None, retry_when_busy: bool = False) -> int | None:
    """The periodic (beat) and on-request full scan. Splits into chunk tasks when the
    portfolio has more projects than ALIGNMENT_SCAN_CHUNK_SIZE and the tasks really go to a
    broker; otherwise one transaction on this worker.

    `retry_when_busy` is set by an edit higher up the chain (alignment.receivers): the scan it
    queues is that edit's only re-check, and a scan already holding the lock may have read the
    portfolio before the edit committed, so it must not be dropped. A periodic scan that finds
    another one running is simply skipped (the next one comes soon); a requested one is shown
    to the user as skipped, with the reason. A split scan (large portfolios) is not retried
    whole: its chunks share the lock, and a chunk that still cannot get it within
    ALIGNMENT_SCAN_LOCK_WAIT_SECONDS fails the scan, which the next periodic scan makes good."""
    # Clear the pending mark first: an edit committed from now on queues its own full scan.
    cache.delete(full_pending_key())
    size = _chunk_size()
    if size > 0 and not run_full_scan.app.conf.task_always_eager:
        from projects.models import CRMProject

        if CRMProject.objects.count() > size:
            return start_split_scan(scan_id)
    try:
        scan = engine.scan_full(scan_id=scan_id)
    except ScanBusy as exc:
        if retry_when_busy:
            raise self.retry(exc=exc, countdown=30) from exc
        return scan_id
    return scan.pk if scan else scan_id


def start_split_scan(scan_id: int | None) -> int | None:
    started = engine.scan_start_chunked(scan_id=scan_id, chunk_size=_chunk_size())
    if started is None:
        return scan_id
    scan, ranges = started
    for index, (lo, hi) in enumerate(ranges):
        run_scan_chunk.delay(scan.pk, index, lo, hi)
    return scan.pk


@shared_task(acks_late=True, ignore_result=True)
def run_scan_chunk(scan_id: int, index: int, lo: int, hi: int) -> None:
    """One id range of a split full scan; the last chunk to finish queues the final step."""
    if engine.scan_chunk(scan_id=scan_id, index=index, lo=lo, hi=hi):
        finish_split_scan.delay(scan_id)


@shared_task(acks_late=True, ignore_result=True)
def finish_split_scan(scan_id: int) -> None:
    engine.scan_finish(scan_id=scan_id)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=5)
def recheck_projects(self, project_ids: list[int]) -> int | None:
    """Re-check the projects an edit touched (and the portfolio-wide rules)."""
    # Clear the pending marks first: an edit committed from now on queues its own re-check.
    cache.delete_many([recheck_pending_key(pk) for pk in project_ids])
    try:
        return engine.scan_projects(project_ids).pk
    except ScanBusy as exc:
        raise self.retry(exc=exc, countdown=30) from exc
