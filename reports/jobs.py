"""The board pack's services: make it at once for a small portfolio, or start a job a worker
makes it in (like the import jobs, onboarding.jobs); what the worker does with a job (claim it,
record its progress, the PDF or why it failed, sweep the ones that can no longer finish); and
the monthly mail's opt-in.

Pages and the API call `board_pack_or_job`, `job_for`, `pdf_of` and `set_monthly_mail`;
`reports.tasks` calls the rest. Who may: `pack.may_get_board_pack` (executives, sponsors,
admins); a job and its PDF are its owner's only (404 for anyone else, admins included: the
pack is made for its reader).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from core import events
from core.permissions import can_read, get_for_user
from core.services import Actor, ServiceUnavailable, require

from . import pack
from .models import UNFINISHED_JOB_STATES, BoardPackSubscription, JobState, ReportJob

log = logging.getLogger(__name__)

UNEXPECTED_FAILURE = (
    "The board pack could not be made: an unexpected error stopped it. Try again; if it "
    "happens again, tell an administrator (report job {pk})."
)


class ReportUnavailable(ServiceUnavailable):
    """The job could not be queued; `job` is its record, stored as failed."""

    def __init__(self, message: str, *, job: ReportJob) -> None:
        super().__init__(message)
        self.job = job


class DatabaseUnavailable(Exception):
    """The database connection was lost while the job ran; the task retries."""


@dataclass(frozen=True)
class BoardPack:
    """A pack made at once (`pdf`), or the job that will make it (`job`)."""

    pdf: bytes | None = None
    filename: str = ""
    job: ReportJob | None = None


def board_pack_or_job(*, actor: Actor) -> BoardPack:
    """The actor's board pack: made now when the portfolio they see has at most
    REPORTS_BOARD_PACK_SYNC_MAX_PROJECTS live projects, otherwise a queued job. PermissionDenied
    (403) unless an executive, a sponsor or an admin; ReportUnavailable (503) when the queue
    does not take the job (stored as failed)."""
    require(pack.may_get_board_pack(actor), pack.BOARD_PACK_REFUSAL)
    if pack.live_project_count(actor) <= int(settings.REPORTS_BOARD_PACK_SYNC_MAX_PROJECTS):
        pdf, _scope = pack.render_pdf(actor)
        return BoardPack(pdf=pdf, filename=pack.filename_for())
    return BoardPack(job=start_job(actor=actor))


def start_job(*, actor: Actor) -> ReportJob:
    """Store a new job and queue it after commit."""
    require(pack.may_get_board_pack(actor), pack.BOARD_PACK_REFUSAL)
    job = ReportJob.objects.create(created_by=actor, progress_total=len(pack.SECTIONS))
    transaction.on_commit(lambda: _queue(job))
    return job


def _queue(job: ReportJob) -> None:
    from . import tasks

    try:
        tasks.make_board_pack.apply_async(
            args=[job.pk], expires=settings.ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS
        )
    except (BrokerError, OSError, RedisError) as exc:
        log.exception("Could not queue report job %s", job.pk)
        failure = (
            "The job could not be started: the task queue did not accept it "
            f"({type(exc).__name__}). Try again in a few minutes."
        )
        if ReportJob.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
            state=JobState.FAILED, finished_at=timezone.now(), failure=failure
        ):
            job.state, job.failure = JobState.FAILED, failure
        raise ReportUnavailable(
            f"Report job {job.pk} could not be started: the task queue is unreachable. Try "
            "again in a few minutes.",
            job=job,
        ) from exc


def jobs_of(user: Any) -> QuerySet[ReportJob]:
    """The user's own jobs, newest first, without the PDF's bytes (nobody else's: a pack is
    made for its reader)."""
    if not can_read(user):
        return ReportJob.objects.none()
    return ReportJob.objects.defer("pdf").filter(created_by=user.pk).select_related("created_by")


def job_for(user: Any, job_id: Any) -> ReportJob:
    """One of the user's jobs, or 404."""
    return get_for_user(jobs_of(user), user, pk=job_id)


def pdf_of(user: Any, job_id: Any) -> tuple[ReportJob, bytes | None]:
    """A job of the user's and its PDF (None until it is done)."""
    job = job_for(user, job_id)
    if job.state != JobState.DONE:
        return job, None
    content = ReportJob.objects.filter(pk=job.pk).values_list("pdf", flat=True).get()
    return job, bytes(content)


# --- The worker's side


def claim(job_id: int, *, task_id: str = "") -> ReportJob | None:
    """Mark the job running and count the attempt; None when there is nothing to run (finished
    already, or out of attempts: then recorded as failed)."""
    changes: dict[str, Any] = {
        "state": JobState.RUNNING,
        "started_at": timezone.now(),
        "attempts": F("attempts") + 1,
        "progress_done": 0,
        "failure": "",
    }
    if task_id:
        changes["task_id"] = task_id
    if not ReportJob.objects.filter(pk=job_id, state__in=UNFINISHED_JOB_STATES).update(**changes):
        return None
    job = ReportJob.objects.defer("pdf").select_related("created_by").get(pk=job_id)
    if job.attempts > int(settings.ALIGNMENT_SCAN_MAX_ATTEMPTS):
        fail(
            job.pk,
            f"Gave up after {job.attempts - 1} attempts: each time, its worker stopped or lost "
            "the database before the pack was made.",
        )
        return None
    return job


def record_progress(job_id: int, done: int, total: int) -> None:
    ReportJob.objects.filter(pk=job_id, state=JobState.RUNNING).update(
        progress_done=max(0, done), progress_total=max(0, total)
    )


def fail(job_id: int | None, message: str, *, task_id: str = "") -> bool:
    """Record why an unfinished job failed and tell its owner (JOB_FINISHED). Best effort: with
    the database gone, the sweep ends the job later."""
    which = Q(pk=job_id) if job_id is not None else Q(pk__in=[])
    if task_id:
        which |= Q(task_id=task_id)
    try:
        return bool(_end(which, message))
    except DatabaseError:
        log.warning("Could not record why report job %s stopped; the sweep will", job_id)
        return False


def _end(which: Q, message: str) -> int:
    """Fail the unfinished jobs `which` selects, in one statement, and tell each owner."""
    with transaction.atomic():
        ended = list(
            ReportJob.objects.select_for_update()
            .filter(which, state__in=UNFINISHED_JOB_STATES)
            .values_list("pk", "created_by_id")
        )
        ReportJob.objects.filter(pk__in=[pk for pk, _ in ended]).update(
            state=JobState.FAILED, finished_at=timezone.now(), failure=message[:2000]
        )
        events.emit_many(_finished_event(pk, owner, failed=True) for pk, owner in ended)
    return len(ended)


def finish(job: ReportJob, pdf: bytes, scope: str) -> None:
    """Store the PDF on the job, mark it done and tell its owner."""
    with transaction.atomic():
        done = ReportJob.objects.filter(pk=job.pk, state=JobState.RUNNING).update(
            state=JobState.DONE,
            finished_at=timezone.now(),
            pdf=pdf,
            size=len(pdf),
            filename=pack.filename_for(),
            scope=scope[:255],
            progress_done=len(pack.SECTIONS),
            progress_total=len(pack.SECTIONS),
        )
        if done:
            events.emit(_finished_event(job.pk, job.created_by_id, failed=False))


def _finished_event(job_id: int, owner_id: int, *, failed: bool) -> events.Event:
    return events.Event(
        type=events.JOB_FINISHED,
        key=f"job.finished:report:{job_id}",
        subject_kind="report",
        subject_id=job_id,
        subject_title=f"Board pack {job_id}",
        path=f"/reports/jobs/{job_id}/",
        summary=(
            f"Your board pack (job {job_id}) failed."
            if failed
            else f"Your board pack (job {job_id}) is ready to download."
        ),
        recipients=(owner_id,),
        severity=events.WARNING if failed else events.INFO,
        data={"state": "failed" if failed else "done"},
    )


def stale_running_message() -> str:
    return (
        "Stopped: its worker was lost (stopped, or cut off from the database or the task "
        "queue) and no other worker took the job over. Ask for the board pack again."
    )


def stale_queued_message() -> str:
    return (
        "Not started: no worker took the job within "
        f"{settings.ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS // 60} minutes (the task queue lost it, "
        "or no worker runs). Ask for the board pack again."
    )


def sweep_stale_report_jobs(*, now: datetime.datetime | None = None) -> int:
    """End the jobs that can no longer finish, with the reason (the import jobs' times)."""
    now = now or timezone.now()
    running_cutoff = now - datetime.timedelta(seconds=int(settings.ALIGNMENT_SCAN_STALE_SECONDS))
    queued_cutoff = now - datetime.timedelta(
        seconds=int(settings.ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS)
    )
    ended = _end(Q(state=JobState.RUNNING, started_at__lt=running_cutoff), stale_running_message())
    ended += _end(Q(state=JobState.QUEUED, created_at__lt=queued_cutoff), stale_queued_message())
    if ended:
        log.warning("Ended %s report job(s) that could no longer finish", ended)
    return ended


# --- The monthly mail's opt-in


def monthly_mail_wanted(user: Any) -> bool:
    return BoardPackSubscription.objects.filter(user=user.pk, monthly=True).exists()


def set_monthly_mail(*, actor: Actor, monthly: bool) -> BoardPackSubscription:
    """Opt in to (or out of) the board pack by mail each month: one's own choice. Opting in is
    for those who may get the pack (403 otherwise); anyone may opt out."""
    if monthly:
        require(pack.may_get_board_pack(actor), pack.BOARD_PACK_REFUSAL)
    with transaction.atomic():
        subscription, _created = BoardPackSubscription.objects.select_for_update().get_or_create(
            user=actor
        )
        if subscription.monthly != monthly:
            subscription.monthly = monthly
            subscription.save(update_fields=["monthly", "updated_at"])
    return subscription
