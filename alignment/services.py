"""Writes for the alignment engine: a sponsor's decisions on flags and projects, and scan
requests.

Approval lives here, not in `projects`, because readiness is the rule catalogue evaluated for
the project (`alignment.readiness`) and `projects` never imports the engine.
The scans themselves live in `alignment.engine` (scan_full, scan_projects).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.http import Http404
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from core import audit
from core.permissions import can_approve_project, can_start_scan
from core.services import (
    Actor,
    ServiceUnavailable,
    Version,
    apply_changes,
    check_version,
    require,
    save_changes,
    touch,
)
from projects import decisions
from projects.access import project_for
from projects.models import (
    APPROVABLE_PROJECT_STATUSES,
    CRMProject,
    DecisionKind,
    ProjectStatus,
)

from .access import flag_for
from .models import Flag, FlagState, Scan, ScanKind, ScanState
from .readiness import project_readiness

log = logging.getLogger(__name__)

REASON_MAX = 2000


class ScanUnavailable(ServiceUnavailable):
    """A requested scan could not be queued; `scan` is its record, stored as failed."""

    def __init__(self, message: str, *, scan: Scan) -> None:
        super().__init__(message)
        self.scan = scan


def _decide(flag: Flag, allowed_from: list[str], **changes: object) -> Flag:
    # The row is locked and its state checked; the state filter also guards SQLite, where
    # select_for_update does nothing, against a scan that resolved the flag meanwhile.
    before = {name: getattr(flag, name) for name in changes}
    updated = Flag.objects.filter(pk=flag.pk, state__in=allowed_from).update(**changes)
    if not updated:
        raise ValidationError(
            "This flag has changed meanwhile (it may have been resolved); reload and try again.",
            code="stale",
        )
    flag.refresh_from_db()
    # An update sends no signal: the decision's history entry is written here.
    audit.log_rows(
        [
            (
                flag,
                audit.UPDATED,
                {
                    name: (old, getattr(flag, name))
                    for name, old in before.items()
                    if old != getattr(flag, name)
                },
            )
        ]
    )
    return flag


@transaction.atomic
def flag_acknowledge(*, actor: Actor, flag_id: int) -> Flag:
    """Acknowledge an open flag: the sponsor has seen it and owns the follow-up."""
    flag = flag_for(actor, flag_id, act=True, for_update=True)
    if flag.state != FlagState.OPEN:
        raise ValidationError(
            f"Only an open flag can be acknowledged; this one is {flag.get_state_display()}.",
            code="invalid_state",
        )
    return _decide(
        flag,
        [FlagState.OPEN],
        state=FlagState.ACKNOWLEDGED,
        acknowledged_by=actor,
        acknowledged_at=timezone.now(),
    )


def waiver_terms(
    reason: str | None, expires_at: datetime.datetime | None
) -> tuple[str, datetime.datetime]:
    """A waiver's reason (stripped) and expiry (aware), or ValidationError naming the field."""
    reason = (reason or "").strip()
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = "Say why this flag is waived."
    elif len(reason) > REASON_MAX:
        errors["reason"] = f"Keep the reason under {REASON_MAX} characters."
    if expires_at is None:
        errors["expires_at"] = "Give the date the waiver expires."
    else:
        if timezone.is_naive(expires_at):
            expires_at = timezone.make_aware(expires_at)
        if expires_at <= timezone.now():
            errors["expires_at"] = "The waiver must expire in the future."
    if errors:
        raise ValidationError(errors)
    assert expires_at is not None
    return reason, expires_at


@transaction.atomic
def flag_waive(
    *, actor: Actor, flag_id: int, reason: str, expires_at: datetime.datetime | None
) -> Flag:
    """Accept a flag's risk until `expires_at`, with a reason; it reopens after expiry."""
    flag = flag_for(actor, flag_id, act=True, for_update=True)
    reason, expires_at = waiver_terms(reason, expires_at)
    if flag.state == FlagState.RESOLVED:
        raise ValidationError(
            "This flag is resolved; there is nothing to waive.", code="invalid_state"
        )
    return _decide(
        flag,
        [FlagState.OPEN, FlagState.ACKNOWLEDGED, FlagState.WAIVED],
        state=FlagState.WAIVED,
        waived_by=actor,
        waived_at=timezone.now(),
        waiver_reason=reason,
        waiver_expires_at=expires_at,
    )


class BulkAction(models.TextChoices):
    ACKNOWLEDGE = "acknowledge", "Acknowledge"
    WAIVE = "waive", "Waive"


class BulkStatus(models.TextChoices):
    DONE = "done", "Done"
    REFUSED = "refused", "Refused"
    NOT_FOUND = "not_found", "Not found"


# One request decides at most this many flags: each is its own transaction with its own lock,
# so a batch costs a few queries per flag.
BULK_MAX = 100


@dataclass(frozen=True)
class BulkOutcome:
    """What became of one flag of a bulk decision; `detail` says why it was refused."""

    flag_id: int
    status: str
    detail: str = ""
    flag: Flag | None = None


def flags_decide_in_bulk(
    *,
    actor: Actor,
    action: str,
    flag_ids: Sequence[int],
    reason: str | None = None,
    expires_at: datetime.datetime | None = None,
) -> list[BulkOutcome]:
    """Acknowledge or waive several flags, one reason and expiry for all waivers.

    Per flag, not all-or-nothing: each flag goes through flag_acknowledge / flag_waive — the
    same permission check, lock and state guard as a single decision, in its own transaction —
    so one flag refused (not the user's project, resolved meanwhile) does not undo the others,
    and the outcome says, per flag, done, refused (why) or not found. A flag the user may not
    see is "not found", like one that does not exist. What was sent is judged first: a bad
    action, reason or expiry, or too many flags, raises ValidationError and decides nothing."""
    if action not in BulkAction.values:
        raise ValidationError({"action": "Choose acknowledge or waive."})
    ids = list(dict.fromkeys(flag_ids))  # in the order given, each once
    if not ids:
        raise ValidationError({"ids": "Select at least one flag."})
    if len(ids) > BULK_MAX:
        raise ValidationError(
            {"ids": f"Select at most {BULK_MAX} flags at a time ({len(ids)} were sent)."}
        )
    if action == BulkAction.WAIVE:
        reason, expires_at = waiver_terms(reason, expires_at)
    outcomes = []
    for flag_id in ids:
        try:
            if action == BulkAction.WAIVE:
                flag = flag_waive(
                    actor=actor, flag_id=flag_id, reason=reason or "", expires_at=expires_at
                )
            else:
                flag = flag_acknowledge(actor=actor, flag_id=flag_id)
        except Http404:
            outcomes.append(BulkOutcome(flag_id, BulkStatus.NOT_FOUND, "No such flag."))
        except PermissionDenied as exc:
            outcomes.append(BulkOutcome(flag_id, BulkStatus.REFUSED, str(exc)))
        except ValidationError as exc:
            outcomes.append(BulkOutcome(flag_id, BulkStatus.REFUSED, " ".join(exc.messages)))
        else:
            outcomes.append(BulkOutcome(flag_id, BulkStatus.DONE, flag=flag))
    return outcomes


def _project_to_decide(
    actor: Actor, project_id: int, version: Version, verb: str, done: str
) -> CRMProject:
    """The project a sponsor decides, locked, so two decisions (or a decision and an edit of
    the status) do not interleave; refused when stale, not theirs to decide, or not waiting."""
    project = project_for(actor, project_id, for_update=True)
    check_version(project, version)  # decide what the sponsor saw, not what changed since
    require(
        can_approve_project(actor, project),
        f"Only the project's sponsor (or an executive) may {verb} it.",
    )
    if project.status not in APPROVABLE_PROJECT_STATUSES:
        raise ValidationError(
            {
                "status": f"Only proposed or on-hold projects can be {done} (this one is "
                f"{project.get_status_display().lower()})."
            }
        )
    return project


@transaction.atomic
def project_approve(
    *, project_id: int, actor: Actor, version: Version = None, comment: object = ""
) -> CRMProject:
    """The sponsor (or an executive) approves a proposed or on-hold project, with an optional
    comment; refused, naming the reasons, while a rule that blocks approval holds for it as
    approved. The decision goes on the project's thread and its manager hears of it."""
    project = _project_to_decide(actor, project_id, version, "approve", "approved")
    text = decisions.clean_comment(comment, required=False)
    readiness = project_readiness(project.pk)
    if readiness.blocking:
        raise ValidationError({"status": readiness.refusal})
    approval = {
        "status": ProjectStatus.APPROVED,
        "approved_at": timezone.now(),
        "approved_by": actor,
    }
    project = save_changes(project, apply_changes(project, approval, approval), actor=actor)
    entry = decisions.record(project, DecisionKind.APPROVED, text, actor)
    decisions.emit_decided(project, entry, actor=actor)
    return project


@transaction.atomic
def project_reject(
    *, project_id: int, actor: Actor, comment: object, version: Version = None
) -> CRMProject:
    """The sponsor (or an executive) rejects a proposed or on-hold project, saying why: it is
    cancelled, and the rejection with its reason stays on its thread."""
    project = _project_to_decide(actor, project_id, version, "reject", "rejected")
    text = decisions.clean_comment(comment, required=True)
    cancelled = {"status": ProjectStatus.CANCELLED}
    project = save_changes(project, apply_changes(project, cancelled, cancelled), actor=actor)
    entry = decisions.record(project, DecisionKind.REJECTED, text, actor)
    decisions.emit_decided(project, entry, actor=actor)
    return project


@transaction.atomic
def project_send_back(
    *, project_id: int, actor: Actor, comment: object, version: Version = None
) -> CRMProject:
    """The sponsor (or an executive) returns a proposed or on-hold project to its manager with
    what to fix. Its status stays; the project page shows the send-back to the manager until
    they resubmit. Refused while an earlier send-back is unanswered."""
    project = _project_to_decide(actor, project_id, version, "send back", "sent back")
    text = decisions.clean_comment(comment, required=True)
    if decisions.open_send_back(project) is not None:
        raise ValidationError(
            {"status": "This project was sent back already and waits for its manager."}
        )
    entry = decisions.record(project, DecisionKind.SENT_BACK, text, actor)
    touch(project, actor=actor)  # a decision taken on the version before is now stale
    decisions.emit_decided(project, entry, actor=actor)
    return project


@transaction.atomic
def scan_request(*, actor: Actor) -> Scan:
    """Queue a full scan; a worker runs it once this transaction commits.

    Raises ServiceUnavailable (API: 503) after the commit when the task queue or the cache is
    unreachable; the scan is then stored as failed with the reason."""
    require(can_start_scan(actor), "Only sponsors, executives and admins may start a scan.")
    scan = Scan.objects.create(kind=ScanKind.FULL, state=ScanState.QUEUED, requested_by=actor)
    transaction.on_commit(lambda: _queue_scan(scan))
    return scan


def _queue_scan(scan: Scan) -> None:
    """Hand the scan to the task queue; if that fails, say so on the scan instead of leaving it
    queued forever, and tell the caller (ServiceUnavailable) rather than answer a server error.
    The broker and cache clients time out after a few seconds (settings), so a hanging server
    never holds the web worker long."""
    from . import tasks  # the task module imports the engine; keep services import-light

    try:
        # A message no worker took within the queue timeout is dropped: by then the sweep has
        # recorded the scan as failed, and the record must stay true.
        tasks.run_full_scan.apply_async(
            args=[scan.pk], expires=settings.ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS
        )
    # Celery re-raises broker failures as BrokerError; a Redis cache (touched by the task when
    # it runs in-process, CELERY_TASK_ALWAYS_EAGER) raises RedisError.
    except (BrokerError, OSError, RedisError) as exc:
        log.exception("Could not queue alignment scan %s", scan.pk)
        error = (
            f"The scan could not be started: the task queue did not accept it "
            f"({type(exc).__name__}: {exc}). Try again in a few minutes."
        )[:2000]
        # Only a scan still queued: should the message have got through after all, a worker
        # that already took the scan keeps it.
        if Scan.objects.filter(pk=scan.pk, state=ScanState.QUEUED).update(
            state=ScanState.FAILED, finished_at=timezone.now(), error=error
        ):
            # Keep the instance the caller holds (and shows) in step with the row.
            scan.state, scan.error = ScanState.FAILED, error
        raise ScanUnavailable(
            f"Scan {scan.pk} could not be started: the task queue is unreachable. "
            "Try again in a few minutes; the periodic scan also keeps the flags current.",
            scan=scan,
        ) from exc
