"""The import jobs' services: start a check (dry run) or an import of an uploaded file, apply a
checked file, and what the worker does with a job (claim it, record its progress, its report or
why it failed, sweep the ones that can no longer finish).

Pages and the API call `start_import` and `apply_checked`; `onboarding.tasks` calls the rest.
The file's own contents are judged by the importer (onboarding.importer), which reports every
problem with sheet, row and column; here only what can be told without reading it: a file is
there, not empty, not too large, and is an XLSX workbook or a CSV file at all.
"""

from __future__ import annotations

import datetime
import io
import logging
import time
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from core.middleware import upload_too_large_message
from core.permissions import can_import_portfolio, import_jobs_visible_to
from core.services import Actor, ServiceUnavailable, require

from .models import REPORT_PROBLEMS_KEPT, UNFINISHED_JOB_STATES, ImportJob, JobState

log = logging.getLogger(__name__)

IMPORT_REFUSAL = "Only executives and admins may import a workbook."
XLSX_MAGIC = b"PK\x03\x04"
# Office's encrypted (password-protected) workbooks, and the old binary .xls, are OLE files.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# How often a running job writes its progress: at most every this many seconds.
PROGRESS_INTERVAL_SECONDS = 0.5

NOT_A_WORKBOOK = (
    "This file is not an XLSX workbook or a CSV file. Save the spreadsheet as an Excel "
    "workbook (.xlsx), or one sheet as CSV (UTF-8), and upload that."
)
PROTECTED_OR_XLS = (
    "This file is a password-protected workbook or an old Excel 97-2003 (.xls) file, which "
    "cannot be read. Remove the password, or save it as an Excel workbook (.xlsx), and upload "
    "that."
)
DAMAGED_WORKBOOK = (
    "This workbook is damaged: it could not be opened as an XLSX file. Open it in your "
    "spreadsheet program, save it again as .xlsx, and upload that."
)
UNEXPECTED_FAILURE = (
    "The import stopped on an unexpected error; nothing of this file was written. Try again; "
    "if it happens again, tell an administrator (job {pk})."
)


class ImportUnavailable(ServiceUnavailable):
    """The job could not be queued; `job` is its record, stored as failed."""

    def __init__(self, message: str, *, job: ImportJob) -> None:
        super().__init__(message)
        self.job = job


class DatabaseUnavailable(Exception):
    """The connection to the database was lost while the job ran; nothing was written. The
    task retries; the sweep ends the job if no retry does."""


# --- Starting a job


def clean_filename(name: str | None) -> str:
    """The upload's own name without a path, control characters (a NUL cannot be stored) or
    more than 255 characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    shown = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return shown[:255] or "upload"


def check_upload(upload: Any) -> None:
    """Refuse (ValidationError on the field `file`) what is no workbook at all: nothing sent,
    an empty or too large file, or one that is neither XLSX nor CSV."""
    try:
        _check_upload(upload)
    except ValidationError as exc:
        raise ValidationError({"file": exc.messages}) from None


def _check_upload(upload: Any) -> None:
    if upload is None:
        raise ValidationError("Choose a file to upload: an XLSX workbook or a CSV file.")
    size = getattr(upload, "size", 0) or 0
    if size == 0:
        raise ValidationError("The file is empty.")
    if size > settings.UPLOAD_MAX_BYTES:
        raise ValidationError(upload_too_large_message())
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    if head.startswith(OLE_MAGIC):
        raise ValidationError(PROTECTED_OR_XLS)
    if head.startswith(XLSX_MAGIC):
        try:
            with zipfile.ZipFile(upload) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise ValidationError(DAMAGED_WORKBOOK) from None
        finally:
            upload.seek(0)
        if "xl/workbook.xml" not in names:
            raise ValidationError(NOT_A_WORKBOOK)
        return
    if not _looks_like_text(upload):
        raise ValidationError(NOT_A_WORKBOOK)


def _looks_like_text(upload: Any) -> bool:
    """UTF-8 text (a CSV) in its first 64 KB, without NUL characters."""
    sample = upload.read(65536)
    upload.seek(0)
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # A character cut at the end of the sample is not a fault of the file.
        return exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data"
    return True


def start_import(*, actor: Actor, upload: Any, dry_run: bool, site_url: str = "") -> ImportJob:
    """Store the uploaded file as a new job and queue it: a check (dry run) reports every
    problem and writes nothing; an import applies the file all-or-nothing.

    Raises PermissionDenied unless the actor may import; ValidationError (about the field
    `file`) for no file, an empty or too large one, or one that is no workbook or CSV;
    ImportUnavailable (API: 503) when the task queue does not take the job, stored as failed."""
    require(can_import_portfolio(actor), IMPORT_REFUSAL)
    check_upload(upload)
    content = b"".join(upload.chunks()) if hasattr(upload, "chunks") else upload.read()
    return _create_and_queue(
        actor=actor,
        filename=clean_filename(upload.name),
        content=content,
        dry_run=dry_run,
        site_url=site_url,
    )


def apply_checked(*, actor: Actor, job_id: Any) -> ImportJob:
    """Apply the file of a clean dry run (one that found no errors), as a new job that reads
    the stored bytes. 404 for a job the actor may not see; refused for one that is not a
    finished, error-free check."""
    require(can_import_portfolio(actor), IMPORT_REFUSAL)
    checked = job_for(actor, job_id)
    if not checked.dry_run or not checked.is_clean:
        raise ValidationError(
            "Only a finished check without errors can be applied. Fix the file and check it again."
        )
    content = (
        ImportJob.objects.filter(pk=checked.pk).values_list("content", flat=True).get()
    )  # read here only: lists leave the bytes in the database
    return _create_and_queue(
        actor=actor,
        filename=checked.filename,
        content=bytes(content),
        dry_run=False,
        checked_by=checked,
        site_url=checked.site_url,
    )


def _create_and_queue(
    *,
    actor: Actor,
    filename: str,
    content: bytes,
    dry_run: bool,
    checked_by: ImportJob | None = None,
    site_url: str = "",
) -> ImportJob:
    job = ImportJob.objects.create(
        site_url=site_url[:200],
        created_by=actor,
        filename=filename,
        content=content,
        size=len(content),
        dry_run=dry_run,
        checked_by=checked_by,
    )
    transaction.on_commit(lambda: _queue(job))
    return job


def _queue(job: ImportJob) -> None:
    """Hand the job to the task queue; if that fails, say so on the job rather than leave it
    queued, and tell the caller (ServiceUnavailable), never a server error."""
    from . import tasks

    try:
        tasks.run_import.apply_async(
            args=[job.pk], expires=settings.ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS
        )
    except (BrokerError, OSError, RedisError) as exc:
        log.exception("Could not queue import job %s", job.pk)
        failure = (
            "The job could not be started: the task queue did not accept it "
            f"({type(exc).__name__}). Nothing was written. Try again in a few minutes."
        )
        if ImportJob.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
            state=JobState.FAILED, finished_at=timezone.now(), failure=failure
        ):
            job.state, job.failure = JobState.FAILED, failure
        raise ImportUnavailable(
            f"Job {job.pk} could not be started: the task queue is unreachable. Try again in a "
            "few minutes.",
            job=job,
        ) from exc


def jobs_of(user: Any) -> Any:
    """The jobs the user may see (their own; an admin all), newest first, without the file's
    bytes."""
    return import_jobs_visible_to(ImportJob.objects.defer("content"), user).select_related(
        "created_by"
    )


def job_for(user: Any, job_id: Any) -> ImportJob:
    """One job the user may see (without its bytes), or 404."""
    from core.permissions import get_for_user

    return get_for_user(jobs_of(user), user, pk=job_id)


# --- The worker's side


def claim(job_id: int, *, task_id: str = "") -> ImportJob | None:
    """Mark the job running and count the attempt. None when there is nothing to run: the job
    is finished (a redelivered or late message must not run it again) or has used up its
    attempts (then recorded as failed)."""
    changes: dict[str, Any] = {
        "state": JobState.RUNNING,
        "started_at": timezone.now(),
        "attempts": F("attempts") + 1,
        "progress_done": 0,
        "failure": "",
    }
    if task_id:
        changes["task_id"] = task_id
    if not ImportJob.objects.filter(pk=job_id, state__in=UNFINISHED_JOB_STATES).update(**changes):
        return None
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if job.attempts > int(settings.ALIGNMENT_SCAN_MAX_ATTEMPTS):
        fail(
            job.pk,
            f"Gave up after {job.attempts - 1} attempts: each time, its worker stopped or lost "
            "the database before the job finished. Nothing of this file was written.",
        )
        return None
    return job


def fail(job_id: int | None, message: str, *, task_id: str = "") -> bool:
    """Record why an unfinished job failed (a finished one keeps its result). Best effort: with
    the database gone, the sweep ends the job later."""
    which = Q(pk=job_id) if job_id is not None else Q(pk__in=[])
    if task_id:
        which |= Q(task_id=task_id)
    try:
        with transaction.atomic():
            now = timezone.now()
            failed = ImportJob.objects.filter(which, state__in=UNFINISHED_JOB_STATES).update(
                state=JobState.FAILED, finished_at=now, failure=message[:2000]
            )
            if failed:
                _emit_finished(
                    ImportJob.objects.filter(which, state=JobState.FAILED, finished_at=now)
                )
            return bool(failed)
    except DatabaseError:
        log.warning("Could not record why import job %s stopped; the sweep will", job_id)
        return False


def finish(job: ImportJob, report: Any) -> None:
    """Store the importer's report on the job, and mark it done."""
    errors = [problem.as_dict() for problem in report.errors[:REPORT_PROBLEMS_KEPT]]
    warnings = [problem.as_dict() for problem in report.warnings[:REPORT_PROBLEMS_KEPT]]
    ImportJob.objects.filter(pk=job.pk, state=JobState.RUNNING).update(
        state=JobState.DONE,
        finished_at=timezone.now(),
        total_rows=report.total_rows,
        progress_total=max(report.total_rows, job.progress_total),
        progress_done=max(report.total_rows, job.progress_total),
        created=dict(report.created),
        updated=dict(report.updated),
        errors=errors,
        warnings=warnings,
        errors_total=len(report.errors),
        warnings_total=len(report.warnings),
        people_invited=list(report.people_invited),
        applied=bool(report.applied),
        scan_id=report.scan_id,
    )
    _emit_finished(ImportJob.objects.filter(pk=job.pk, state=JobState.DONE))


def _emit_finished(jobs: Any) -> None:
    """JOB_FINISHED for the person who started each job (core.events), once per job."""
    from django.urls import reverse

    from core import events

    events.emit_many(
        events.Event(
            type=events.JOB_FINISHED,
            key=f"{events.JOB_FINISHED}:import:{job['pk']}",
            subject_kind="import",
            subject_id=job["pk"],
            subject_title=job["filename"],
            path=reverse("onboarding:job", args=[job["pk"]]),
            summary=(
                f"Your {'check' if job['dry_run'] else 'import'} of “{job['filename']}” "
                + ("failed" if job["state"] == JobState.FAILED else "finished")
                + (
                    f" with {job['errors_total']} error{'s' if job['errors_total'] != 1 else ''}"
                    if job["state"] == JobState.DONE and job["errors_total"]
                    else ""
                )
            ),
            recipients=(job["created_by_id"],),
            severity=events.WARNING if job["state"] == JobState.FAILED else events.INFO,
            data={"state": job["state"], "failure": job["failure"][:500]},
        )
        for job in jobs.values(
            "pk", "filename", "dry_run", "state", "errors_total", "failure", "created_by_id"
        )
    )


@dataclass
class ProgressRecorder:
    """The importer's progress callback: writes rows done / total on the job when half a second
    (PROGRESS_INTERVAL_SECONDS) has passed or another 1% of the rows is done, and at the end —
    never per row of a large file (at most about a hundred writes, plus two a second).

    The importer applies a file in one transaction; progress written on that connection would
    stay invisible until the end (and vanish with a rollback). So inside a transaction it is
    written through a connection of its own, committed at once — on PostgreSQL. SQLite allows
    one writer at a time, so there (the in-process, zero-setup mode, where the page waits for
    the job anyway) progress is written only outside the importer's transaction."""

    job_id: int
    clock: Callable[[], float] = time.monotonic
    _last: float = float("-inf")
    _last_done: int = 0
    _side: Any = None

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if (
            done < total
            and now - self._last < PROGRESS_INTERVAL_SECONDS
            and (done - self._last_done) * 100 < total
        ):
            return
        self._last, self._last_done = now, done
        self.write(done, total)

    def write(self, done: int, total: int) -> None:
        done, total = max(0, int(done)), max(0, int(total))
        if not connection.in_atomic_block:
            ImportJob.objects.filter(pk=self.job_id, state=JobState.RUNNING).update(
                progress_done=done, progress_total=total
            )
            return
        if connection.vendor != "postgresql":
            return
        if self._side is None:
            self._side = connections.create_connection("default")
        with self._side.cursor() as cursor:
            # The table's name is the model's own, not input; the values are parameters.
            cursor.execute(
                f"UPDATE {ImportJob._meta.db_table} SET progress_done = %s, "  # noqa: S608
                "progress_total = %s WHERE id = %s AND state = %s",
                [done, total, self.job_id, JobState.RUNNING.value],
            )

    def close(self) -> None:
        if self._side is not None:
            self._side.close()
            self._side = None


def read_content(job: ImportJob) -> IO[bytes]:
    content = ImportJob.objects.filter(pk=job.pk).values_list("content", flat=True).get()
    return io.BytesIO(bytes(content))


def stale_running_message() -> str:
    return (
        "Stopped: its worker was lost (stopped, or cut off from the database or the task "
        "queue) and no other worker took the job over. Nothing of this file was written; "
        "upload it again."
    )


def stale_queued_message() -> str:
    return (
        "Not started: no worker took the job within "
        f"{settings.ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS // 60} minutes (the task queue lost it, "
        "or no worker runs). Nothing was written; upload the file again."
    )


def sweep_stale_imports(*, now: datetime.datetime | None = None) -> int:
    """End the jobs that can no longer finish, with the reason; returns how many. Same times as
    the scans' sweep (alignment.engine.sweep_stale_scans), whose limits the job shares:
    `running` past ALIGNMENT_SCAN_STALE_SECONDS (past the time limit, and past the broker's
    redelivery of a lost worker's message, which restarts the job), `queued` past
    ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS (its message is lost; a late one finds it failed)."""
    now = now or timezone.now()
    running_cutoff = now - datetime.timedelta(seconds=int(settings.ALIGNMENT_SCAN_STALE_SECONDS))
    queued_cutoff = now - datetime.timedelta(
        seconds=int(settings.ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS)
    )
    ended = ImportJob.objects.filter(state=JobState.RUNNING, started_at__lt=running_cutoff).update(
        state=JobState.FAILED, finished_at=now, failure=stale_running_message()
    )
    ended += ImportJob.objects.filter(state=JobState.QUEUED, created_at__lt=queued_cutoff).update(
        state=JobState.FAILED, finished_at=now, failure=stale_queued_message()
    )
    if ended:
        log.warning("Ended %s import job(s) that could no longer finish", ended)
    return ended
