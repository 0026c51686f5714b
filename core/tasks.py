"""The footing every long-running Celery task shares (the scans in alignment.tasks, the import
jobs in onboarding.tasks): each is rerun-safe, so it is acknowledged only when done
(acks_late) and a killed worker's message is handed to another; a lost database is retried with
exponential backoff, up to ALIGNMENT_SCAN_MAX_ATTEMPTS starts in all; and Celery's soft and hard
time limits stand behind the work's own deadline. Subclasses name the errors to retry
(`autoretry_for`) and say on their record why a task stopped for good (`on_failure`)."""

from __future__ import annotations

from celery import Task, shared_task
from django.conf import settings


class DurableTask(Task):
    acks_late = True
    ignore_result = True
    retry_backoff = True
    # Retries wait 1, 2, 4, … seconds (with jitter), never longer than half the broker's
    # visibility timeout, so a waiting retry is not handed out twice.
    retry_backoff_max = max(1, min(60, settings.CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS // 2))
    retry_jitter = True
    max_retries = settings.ALIGNMENT_SCAN_MAX_ATTEMPTS - 1
    soft_time_limit = (
        settings.ALIGNMENT_SCAN_TIME_LIMIT_SECONDS + settings.ALIGNMENT_SCAN_HARD_TIME_LIMIT_SECONDS
    ) // 2
    time_limit = settings.ALIGNMENT_SCAN_HARD_TIME_LIMIT_SECONDS


@shared_task(base=DurableTask, name="core.tasks.compact_row_counts")
def compact_row_counts() -> int:
    """Fold the changes of each table counted as it is written into one row (core.counts).
    Returns how many rows were folded (to a caller that waits for it; beat does not)."""
    from .counts import compact

    return compact()
