"""Events: what happened that someone must hear of, defined in one place.

Services and the scan say what happened with `emit(...)`, inside the transaction that made it
happen. `emitted` is sent at once, in that transaction, so a receiver that records the event (the
in-app notifications and mail of `notifications`, the deliveries of `webhooks`) writes its rows
together with the change: if the change is rolled back (a failed save, an impact preview), the
event never happened; if it commits, the event is on record before anything is sent, and a
delivery that fails is retried from that record, never lost. Receivers queue their sending with
`transaction.on_commit`.

The kernel imports no app, so the emitters (goals … onboarding) and the receivers (apps above
them) meet here.

    from core import events
    events.emit(events.Event(type=events.PROJECT_APPROVED, subject=..., recipients=[...], ...))
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.dispatch import Signal
from django.utils import timezone

# Who an event is for is decided by the emitter (it knows the project's manager, sponsor, the
# approvers); how each person hears of it (in-app, mail now, digest, off) is their preference.
FLAG_OPENED = "flag.opened"
APPROVAL_REQUESTED = "approval.requested"
PROJECT_APPROVED = "project.approved"
PROJECT_REJECTED = "project.rejected"
PROJECT_SENT_BACK = "project.sent_back"
WAIVER_EXPIRING = "waiver.expiring"
PARENT_RETIRED = "parent.retired"
CHECK_IN_DUE = "check_in.due"
JOB_FINISHED = "job.finished"
WEBHOOK_PAUSED = "webhook.paused"

CRITICAL, WARNING, INFO = "critical", "warning", "info"
SEVERITIES = (CRITICAL, WARNING, INFO)


@dataclass(frozen=True)
class EventType:
    key: str
    label: str
    description: str
    # The channel a person gets unless they chose otherwise: "immediate" (in-app and mail at
    # once), "in_app", "digest" or "off". A critical flag is immediate; a warning one is
    # summed up in the weekly digest (the event's severity decides, see `default_delivery`).
    default: str
    # Whether an admin may subscribe a webhook to it.
    webhook: bool = True


CATALOGUE: dict[str, EventType] = {
    t.key: t
    for t in (
        EventType(
            FLAG_OPENED,
            "Flag opened on your project",
            "A rule flagged (or flagged again) a project you manage or sponsor, or one of its "
            "features. Critical flags reach you at once; warnings in the weekly digest.",
            default="immediate",
        ),
        EventType(
            APPROVAL_REQUESTED,
            "Approval waiting for you",
            "A project you sponsor (or, as an executive, any project) waits for your decision.",
            default="immediate",
        ),
        EventType(
            PROJECT_APPROVED,
            "Your project was approved",
            "A project you manage was approved.",
            default="immediate",
        ),
        EventType(
            PROJECT_REJECTED,
            "Your project was rejected",
            "A project you manage was rejected, with the reason.",
            default="immediate",
        ),
        EventType(
            PROJECT_SENT_BACK,
            "Your project was sent back",
            "A project you manage was sent back to you with what to fix.",
            default="immediate",
        ),
        EventType(
            WAIVER_EXPIRING,
            "Waiver expiring",
            "A waiver you granted, or one covering your project, expires within 7 days.",
            default="digest",
        ),
        EventType(
            PARENT_RETIRED,
            "Strategy or goal above your project retired",
            "A CRM strategy, business strategy or goal your project traces to was retired or "
            "deleted, with what it breaks.",
            default="immediate",
        ),
        EventType(
            CHECK_IN_DUE,
            "Check-in due",
            "Your project will be flagged stalled in 5 days unless it gets a check-in.",
            default="digest",
        ),
        EventType(
            JOB_FINISHED,
            "Your import or report is ready",
            "An import or a report you started finished (or failed).",
            default="in_app",
            webhook=False,
        ),
        EventType(
            WEBHOOK_PAUSED,
            "Webhook paused",
            "A webhook you own was paused after failing 10 times in a row.",
            default="immediate",
            webhook=False,
        ),
    )
}


@dataclass(frozen=True)
class Event:
    """One thing that happened. `key` makes it idempotent: two emits with the same key are the
    same event (a receiver records it once), e.g. f"flag.opened:{flag_id}:{opened_at}"."""

    type: str
    key: str
    # What it is about: kind ("project", "feature", "goal", "business_strategy",
    # "crm_strategy", "flag", "waiver", "import", "report", "webhook"), id, title, and the
    # path of its page in the app ("/projects/12/"); receivers make it absolute.
    subject_kind: str
    subject_id: int
    subject_title: str
    path: str
    # One readable sentence: the notification's title, the Slack/Teams text.
    summary: str
    # The ids of the users it is for (the emitter's decision, see the catalogue).
    recipients: tuple[int, ...] = ()
    severity: str = INFO
    actor_id: int | None = None
    # JSON-serialisable details (the flag's explanation, the impact, the comment, …).
    data: Mapping[str, Any] = field(default_factory=dict)
    occurred_at: datetime.datetime = field(default_factory=timezone.now)

    def __post_init__(self) -> None:
        if self.type not in CATALOGUE:
            raise ValueError(f"Unknown event type {self.type!r}.")
        if self.severity not in SEVERITIES:
            raise ValueError(f"Unknown severity {self.severity!r}.")


# Sent with `events=[Event, …]` inside the emitting transaction.
emitted = Signal()


def emit(event: Event) -> None:
    emit_many([event])


def emit_many(events: Iterable[Event]) -> None:
    """Hand the events to the receivers now, in the caller's transaction (they write their
    records in it and send after commit). Emitting nothing sends nothing."""
    batch = list(events)
    if batch:
        emitted.send(sender=Event, events=batch)


def default_delivery(event_type: str, severity: str) -> str:
    """A person's channel for an event type when they have not chosen one."""
    if event_type == FLAG_OPENED and severity != CRITICAL:
        return "digest"
    return CATALOGUE[event_type].default
