"""Celery tasks for import jobs, with plain id arguments, on the same footing as the scan tasks
(alignment.tasks.ScanTask):

- acks_late: a job whose worker is killed is handed to another worker by the broker (after its
  visibility timeout) and runs again from the stored file; the importer applies a file in one
  transaction, so the killed run left nothing behind;
- a lost database connection is retried with exponential backoff, up to
  ALIGNMENT_SCAN_MAX_ATTEMPTS starts in all; a job that stops for good says why
  (`ImportTask.on_failure`), and should even that fail, the periodic sweep
  (`sweep_stale_imports`) ends it with the reason;
- an unexpected error marks the job failed with a plain message (the traceback goes to the
  log, not to the user);
- time limits: the scans' (the import ends with a full scan), so the broker's visibility timeout,
  computed from them, covers an import too and a running job is never handed out twice.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError

from core.tasks import DurableTask

from . import jobs

log = logging.getLogger(__name__)


class ImportTask(DurableTask):
    """Base of the import task: the scans' footing (core.tasks), and a job that stops for good
    says why."""

    autoretry_for = (jobs.DatabaseUnavailable,)

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        job_id = kwargs.get("job_id", args[0] if args else None)
        if isinstance(exc, jobs.DatabaseUnavailable):
            message = (
                "Stopped: the database stayed unreachable. Nothing of this file was written; "
                "upload it again."
            )
        elif isinstance(exc, SoftTimeLimitExceeded):
            message = _time_limit_message()
        else:
            message = jobs.UNEXPECTED_FAILURE.format(pk=job_id)
        jobs.fail(job_id, message, task_id=task_id or "")


def _time_limit_message() -> str:
    return (
        "Stopped at the time limit of "
        f"{settings.ALIGNMENT_SCAN_TIME_LIMIT_SECONDS} seconds; nothing of this file was "
        "written. Split the workbook, or ask an administrator to raise "
        "ALIGNMENT_SCAN_TIME_LIMIT_SECONDS."
    )


@shared_task(bind=True, base=ImportTask)
def run_import(self: Task, job_id: int) -> int | None:
    """Check or apply one job's stored file through the importer and store its report."""
    from .importer import import_workbook

    jobs.sweep_stale_imports()
    job = jobs.claim(job_id, task_id=self.request.id or "")
    if job is None:
        return None
    progress = jobs.ProgressRecorder(job.pk)
    try:
        report = import_workbook(
            jobs.read_content(job),
            filename=job.filename,
            actor=job.created_by,
            dry_run=job.dry_run,
            progress=progress,
            site_url=job.site_url,
        )
    except PermissionDenied as exc:
        # The person lost the right to import since they uploaded the file.
        jobs.fail(job.pk, f"Refused: {exc} Nothing was written.")
        return job.pk
    except SoftTimeLimitExceeded:
        log.warning("Import job %s stopped at its time limit", job.pk)
        jobs.fail(job.pk, _time_limit_message())
        return job.pk
    except (OperationalError, InterfaceError) as exc:
        log.warning("Import job %s lost the database: %s", job.pk, exc)
        raise jobs.DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
    except Exception:
        log.exception("Import job %s failed", job.pk)
        jobs.fail(job.pk, jobs.UNEXPECTED_FAILURE.format(pk=job.pk))
        return job.pk
    finally:
        progress.close()
    try:
        jobs.finish(job, report)
    except (OperationalError, InterfaceError) as exc:
        # Run again: an applied file imports again without a change (rows match by their
        # keys), and the report is then stored.
        log.warning("Import job %s could not store its report: %s", job.pk, exc)
        raise jobs.DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
    return job.pk


@shared_task(acks_late=True, ignore_result=True)
def sweep_stale_imports() -> int:
    """End the import jobs that can no longer finish (beat, every ALIGNMENT_SCAN_SWEEP_SECONDS)."""
    return jobs.sweep_stale_imports()
