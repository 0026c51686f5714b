"""The notifications' writes: recording emitted events (the outbox), the in-app rows, the mail
deliveries, and each person's own actions (read, preferences, unsubscribe)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.utils import timezone

from core import events
from core.bulk import insert_ignoring_conflicts

from .models import (
    DIGEST,
    IMMEDIATE,
    IN_APP,
    OFF,
    WEEKLY_DIGEST,
    DeliveryKind,
    DeliveryState,
    EventRecord,
    MailDelivery,
    Notification,
    Preference,
)

log = logging.getLogger(__name__)

CHANNELS = (IMMEDIATE, IN_APP, DIGEST, OFF)
UNSUBSCRIBE_SALT = "notifications.unsubscribe"


def channels_of(user_ids: Iterable[int], types: Iterable[str]) -> dict[tuple[int, str], str]:
    """The channels people chose for these event types: one query."""
    return {
        (user_id, event_type): channel
        for user_id, event_type, channel in Preference.objects.filter(
            user_id__in=set(user_ids), event_type__in=set(types)
        ).values_list("user_id", "event_type", "channel")
    }


def channel_for(chosen: dict[tuple[int, str], str], user_id: int, event: events.Event) -> str:
    return chosen.get((user_id, event.type)) or events.default_delivery(event.type, event.severity)


def record(batch: Sequence[events.Event]) -> list[int]:
    """Record the events not recorded yet (unique on key) and, per recipient and their channel,
    the in-app rows and mail deliveries, in the caller's transaction; after commit, queue the
    mails. A constant number of queries whatever the number of events and recipients. Returns
    the new records' ids."""
    by_key = {event.key: event for event in batch}
    known = set(EventRecord.objects.filter(key__in=by_key).values_list("key", flat=True))
    fresh = [event for key, event in by_key.items() if key not in known]
    if not fresh:
        return []
    # ignore_conflicts: an emitter racing on the same key records it once (the loser's rows
    # below then find the winner's record and its unique constraints).
    EventRecord.objects.bulk_create(
        [
            EventRecord(
                key=e.key,
                type=e.type,
                severity=e.severity,
                subject_kind=e.subject_kind,
                subject_id=e.subject_id,
                subject_title=e.subject_title[:255],
                path=e.path[:255],
                summary=e.summary,
                actor_id=e.actor_id,
                data=dict(e.data),
                occurred_at=e.occurred_at,
            )
            for e in fresh
        ],
        ignore_conflicts=True,
    )
    ids = dict(EventRecord.objects.filter(key__in=[e.key for e in fresh]).values_list("key", "pk"))
    recipients = {user_id for e in fresh for user_id in e.recipients}
    # Only active people; their addresses are read when the mail is sent.
    active = set(
        get_user_model()
        .objects.filter(pk__in=recipients, is_active=True)
        .values_list("pk", flat=True)
    )
    chosen = channels_of(active, {e.type for e in fresh})
    now = timezone.now()
    # Plain rows, not instances: a first scan of a large portfolio fans out tens of thousands.
    in_app: list[tuple[int, int]] = []
    mails: list[tuple[int, int, str, Any]] = []
    for event in fresh:
        for user_id in dict.fromkeys(event.recipients):
            if user_id not in active:
                continue
            channel = channel_for(chosen, user_id, event)
            if channel == OFF:
                continue
            in_app.append((user_id, ids[event.key]))
            if channel == IMMEDIATE:
                mails.append((user_id, ids[event.key], DeliveryKind.IMMEDIATE.value, now))
            elif channel == DIGEST:
                mails.append((user_id, ids[event.key], DeliveryKind.DIGEST_ITEM.value, None))
    insert_ignoring_conflicts(Notification, ("user", "event"), in_app, {"created_at": now})
    insert_ignoring_conflicts(
        MailDelivery,
        ("user", "event", "kind", "next_attempt_at"),
        mails,
        {
            "state": DeliveryState.PENDING.value,
            "to_address": "",
            "attempts": 0,
            "error": "",
            "created_at": now,
        },
    )
    event_ids = sorted(ids.values())
    if any(kind == DeliveryKind.IMMEDIATE for _user, _event, kind, _at in mails):
        transaction.on_commit(lambda: queue_event_mails(event_ids))
    return event_ids


def queue_event_mails(event_ids: list[int]) -> None:
    """After commit: one task sends the events' pending mails. A broker outage is logged, not
    raised into the page that caused the event; the sweep sends them later."""
    from .tasks import send_event_mails

    try:
        send_event_mails.delay(event_ids)
    except Exception:
        log.exception("Could not queue the mails of events %s; the sweep will send them", event_ids)


# --- A person's own actions ----------------------------------------------------------------


def mark_read(*, user: Any, notification_id: int) -> Notification:
    """Mark one of the person's notifications read; another person's is not found (404)."""
    from django.shortcuts import get_object_or_404

    notification = get_object_or_404(
        Notification.objects.select_related("event"), pk=notification_id, user=user
    )
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )
    return notification


def mark_all_read(*, user: Any) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def preference_types() -> list[tuple[str, str, str]]:
    """(key, label, description) of what a person can choose for: every event type, then the
    weekly digest."""
    return [(t.key, t.label, t.description) for t in events.CATALOGUE.values()] + [
        (
            WEEKLY_DIGEST,
            "Weekly digest",
            "Your open flags by project, approvals waiting, waivers expiring, stalled projects "
            "and the alignment figures, every Monday.",
        )
    ]


def allowed_channels(event_type: str) -> tuple[str, ...]:
    return (DIGEST, OFF) if event_type == WEEKLY_DIGEST else CHANNELS


def current_preferences(user: Any) -> dict[str, str]:
    """The person's channel per type: their choice, else the default (warnings aside, the
    flag type's default is its critical one)."""
    chosen = dict(Preference.objects.filter(user=user).values_list("event_type", "channel"))
    current = {
        key: chosen.get(key) or events.default_delivery(key, events.CRITICAL)
        for key in events.CATALOGUE
    }
    current[WEEKLY_DIGEST] = chosen.get(WEEKLY_DIGEST, DIGEST)
    return current


@transaction.atomic
def set_preferences(*, user: Any, choices: dict[str, str]) -> int:
    """Save the person's channels (validated by the caller's form); returns how many changed.
    A choice equal to what they get already (their choice, or the default) stores nothing, so
    the flag type's default keeps sending warnings to the digest. Saved one by one so each
    change is in the history (auditlog)."""
    current = current_preferences(user)
    changed = 0
    for event_type, channel in choices.items():
        if event_type not in events.CATALOGUE and event_type != WEEKLY_DIGEST:
            raise ValueError(f"Unknown event type {event_type!r}.")
        if channel not in allowed_channels(event_type):
            raise ValueError(f"Channel {channel!r} is not offered for {event_type!r}.")
        if current.get(event_type) == channel:
            continue
        preference, _ = Preference.objects.get_or_create(
            user=user, event_type=event_type, defaults={"channel": channel}
        )
        if preference.channel != channel:
            preference.channel = channel
            preference.save()
        changed += 1
    return changed


# --- Unsubscribe ---------------------------------------------------------------------------


def unsubscribe_token(user_id: int, event_type: str) -> str:
    """A signed token naming the person and what they unsubscribe from (an event type's mails,
    or the weekly digest); no login needed to use it, and it cannot be forged."""
    return signing.dumps({"u": user_id, "t": event_type}, salt=UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    """(user id, event type) of a valid token; raises signing.BadSignature otherwise."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise signing.BadSignature("Malformed token.")
    event_type = str(data.get("t"))
    if event_type not in events.CATALOGUE and event_type != WEEKLY_DIGEST:
        raise signing.BadSignature("Unknown event type.")
    return data["u"], event_type


@transaction.atomic
def unsubscribe(*, token: str) -> tuple[Any, str]:
    """Stop the mails the token names: an event type's mails go in-app only; the digest stops.
    Idempotent. Returns (user, event type)."""
    user_id, event_type = read_unsubscribe_token(token)
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        raise signing.BadSignature("No such person.")
    channel = OFF if event_type == WEEKLY_DIGEST else IN_APP
    set_preferences(user=user, choices={event_type: channel})
    # Mails of that type not sent yet are not sent either.
    stopped = MailDelivery.objects.filter(user=user, state=DeliveryState.PENDING, attempts=0)
    if event_type == WEEKLY_DIGEST:
        stopped.filter(kind=DeliveryKind.DIGEST).update(
            state=DeliveryState.FAILED, error="Unsubscribed before it was sent."
        )
    else:
        stopped.filter(event__type=event_type).update(
            state=DeliveryState.FAILED, error="Unsubscribed before it was sent."
        )
    return user, event_type


def site_url() -> str:
    return str(settings.SITE_URL).rstrip("/")


def absolute(path: str) -> str:
    return f"{site_url()}{path}"
