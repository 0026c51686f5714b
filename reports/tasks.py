"""Celery tasks of the reports: make a board pack for a job (on the import jobs' footing,
core.tasks.DurableTask: acks_late, a lost database retried with backoff, time limits, a job that
stops for good says why), sweep the jobs that can no longer finish, and the monthly mail."""

from __future__ import annotations

import datetime
import logging
from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from core.tasks import DurableTask

from . import jobs, mail, pack

log = logging.getLogger(__name__)


class ReportTask(DurableTask):
    autoretry_for = (jobs.DatabaseUnavailable,)

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        job_id = kwargs.get("job_id", args[0] if args else None)
        if isinstance(exc, jobs.DatabaseUnavailable):
            message = "Stopped: the database stayed unreachable. Ask for the board pack again."
        elif isinstance(exc, SoftTimeLimitExceeded):
            message = _time_limit_message()
        else:
            message = jobs.UNEXPECTED_FAILURE.format(pk=job_id)
        jobs.fail(job_id, message, task_id=task_id or "")


def _time_limit_message() -> str:
    return (
        "Stopped at the time limit of "
        f"{settings.ALIGNMENT_SCAN_TIME_LIMIT_SECONDS} seconds. Ask an administrator to raise "
        "ALIGNMENT_SCAN_TIME_LIMIT_SECONDS."
    )


@shared_task(bind=True, base=ReportTask)
def make_board_pack(self: Task, job_id: int) -> int | None:
    """Make one job's board pack for the person who asked, and store the PDF on the job. Any
    error ends the job failed with a plain message (the traceback goes to the log)."""
    jobs.sweep_stale_report_jobs()
    job = jobs.claim(job_id, task_id=self.request.id or "")
    if job is None:
        return None
    try:
        if not pack.may_get_board_pack(job.created_by):
            jobs.fail(job.pk, f"Refused: {pack.BOARD_PACK_REFUSAL}")
            return job.pk
        pdf, scope = pack.render_pdf(
            job.created_by,
            progress=lambda done, total: jobs.record_progress(job.pk, done, total),
        )
    except SoftTimeLimitExceeded:
        log.warning("Report job %s stopped at its time limit", job.pk)
        jobs.fail(job.pk, _time_limit_message())
        return job.pk
    except (OperationalError, InterfaceError) as exc:
        log.warning("Report job %s lost the database: %s", job.pk, exc)
        raise jobs.DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
    except Exception:
        log.exception("Report job %s failed", job.pk)
        jobs.fail(job.pk, jobs.UNEXPECTED_FAILURE.format(pk=job.pk))
        return job.pk
    try:
        jobs.finish(job, pdf, scope)
    except (OperationalError, InterfaceError) as exc:
        raise jobs.DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
    return job.pk


@shared_task(acks_late=True, ignore_result=True)
def sweep_stale_report_jobs() -> int:
    """End the report jobs that can no longer finish (beat, every ALIGNMENT_SCAN_SWEEP_SECONDS)."""
    return jobs.sweep_stale_report_jobs()


@shared_task(acks_late=True, ignore_result=True)
def mail_monthly_board_packs(month: str | None = None) -> int:
    """The 1st of each month (beat): queue one mail per opted-in executive or sponsor who has
    not had this month's pack yet; returns how many were queued."""
    day = datetime.date.fromisoformat(month) if month else timezone.localdate()
    queued = 0
    for user_id in mail.recipients_due(day):
        send_board_pack.delay(user_id, day.replace(day=1).isoformat())
        queued += 1
    return queued


@shared_task(
    bind=True,
    acks_late=True,
    ignore_result=True,
    autoretry_for=(mail.MailFailed,),
    retry_backoff=60,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=5,
)
def send_board_pack(self: Task, user_id: int, month: str) -> str:
    """Mail one person their board pack for the month, once: a refused or timed-out SMTP
    server is retried with backoff, and the delivery record says what happened."""
    return mail.send_monthly_pack(
        user_id,
        datetime.date.fromisoformat(month),
        last_try=self.request.retries >= (self.max_retries or 0),
    )
