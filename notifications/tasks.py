"""Celery tasks: the mails of recorded events (queued after commit), their retries, the sweep
that resends what a lost task left pending, the weekly digest, the daily reminders (waivers
expiring, check-ins due) and the 90-day clean-up. Each is rerun-safe (core.tasks.DurableTask):
a delivery is claimed before it is sent, so a task run twice sends once."""

from __future__ import annotations

import datetime
import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core.roles import Role
from core.tasks import DurableTask

from . import mail
from .models import (
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

SWEEP_BATCH = 500


def _queue_retry(delivery_id: int) -> None:
    try:
        send_mail.apply_async(
            args=[delivery_id],
            countdown=mail.backoff_seconds(
                MailDelivery.objects.filter(pk=delivery_id)
                .values_list("attempts", flat=True)
                .first()
                or 1
            ),
        )
    except Exception:
        log.exception("Could not queue the retry of mail delivery %s; the sweep will", delivery_id)


@shared_task(base=DurableTask, name="notifications.tasks.send_mail")
def send_mail(delivery_id: int) -> str:
    """One attempt at one delivery; a failed attempt queues the next one, later."""
    outcome = mail.deliver(delivery_id)
    if outcome == mail.RETRY:
        _queue_retry(delivery_id)
    return outcome


@shared_task(base=DurableTask, name="notifications.tasks.send_event_mails")
def send_event_mails(event_ids: list[int]) -> int:
    """The pending immediate mails of these events; returns how many were sent."""
    ids = list(
        MailDelivery.objects.filter(
            event_id__in=event_ids, kind=DeliveryKind.IMMEDIATE, state=DeliveryState.PENDING
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    sent = 0
    for delivery_id in ids:
        outcome = mail.deliver(delivery_id)
        sent += outcome == mail.SENT
        if outcome == mail.RETRY:
            _queue_retry(delivery_id)
    return sent


@shared_task(base=DurableTask, name="notifications.tasks.sweep_mail")
def sweep_mail(now_iso: str | None = None) -> int:
    """Resend the pending mails whose task was lost (due longer ago than the grace period);
    mark failed the ones a lost worker left `sending` (not resent: the mail may have left).
    Returns how many were queued again."""
    now = datetime.datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    grace = datetime.timedelta(seconds=int(settings.NOTIFICATIONS_MAIL_SWEEP_GRACE_SECONDS))
    MailDelivery.objects.filter(
        state=DeliveryState.SENDING, last_attempt_at__lt=now - grace
    ).update(
        state=DeliveryState.FAILED,
        error="Its worker stopped while talking to the mail server; not sent again, as the "
        "mail may already have left.",
    )
    lost = list(
        MailDelivery.objects.filter(
            state=DeliveryState.PENDING,
            kind__in=[DeliveryKind.IMMEDIATE, DeliveryKind.DIGEST],
            next_attempt_at__lt=now - grace,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    if not lost:
        return 0
    # Not picked again by the next sweep while this one's tasks are queued.
    MailDelivery.objects.filter(pk__in=lost).update(next_attempt_at=now)
    queued = 0
    for delivery_id in lost:
        try:
            send_mail.delay(delivery_id)
            queued += 1
        except Exception:
            log.exception("Could not queue mail delivery %s; the next sweep will", delivery_id)
            break
    log.warning("Queued %s mail deliveries again whose task was lost", queued)
    return queued


def week_of(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def digest_readers() -> Any:
    """Who gets a weekly digest: active people with an address and a role other than viewer
    (or a digest line waiting), who did not turn it off."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    return (
        users.filter(
            Q(groups__name__in=[Role.EXECUTIVE, Role.SPONSOR, Role.PROJECT_MANAGER])
            | Exists(
                MailDelivery.objects.filter(
                    user=OuterRef("pk"), kind=DeliveryKind.DIGEST_ITEM, state=DeliveryState.PENDING
                )
            )
        )
        .exclude(
            Exists(
                Preference.objects.filter(
                    user=OuterRef("pk"), event_type=WEEKLY_DIGEST, channel=OFF
                )
            )
        )
        .distinct()
    )


@shared_task(base=DurableTask, name="notifications.tasks.send_weekly_digests")
def send_weekly_digests(today_iso: str | None = None) -> int:
    """Create this week's digest delivery for each reader (once: unique per person and week, so
    a second run creates none) and send the pending ones. Returns how many were sent."""
    today = datetime.date.fromisoformat(today_iso) if today_iso else timezone.localdate()
    week = week_of(today)
    now = timezone.now()
    readers = list(digest_readers().values_list("pk", flat=True))
    MailDelivery.objects.bulk_create(
        [
            MailDelivery(user_id=pk, kind=DeliveryKind.DIGEST, week=week, next_attempt_at=now)
            for pk in readers
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    pending = MailDelivery.objects.filter(
        kind=DeliveryKind.DIGEST, week=week, state=DeliveryState.PENDING, attempts=0
    ).values_list("pk", flat=True)
    sent = 0
    for delivery_id in list(pending):
        outcome = mail.deliver(delivery_id)
        sent += outcome == mail.SENT
        if outcome == mail.RETRY:
            _queue_retry(delivery_id)
    return sent


@shared_task(base=DurableTask, name="notifications.tasks.emit_daily_reminders")
def emit_daily_reminders(today_iso: str | None = None) -> dict[str, int]:
    """The daily events: waivers expiring within 7 days, check-ins due in 5 days."""
    from alignment import notify

    today = datetime.date.fromisoformat(today_iso) if today_iso else timezone.localdate()
    return {
        "waivers": notify.emit_waivers_expiring(now=timezone.now()),
        "check_ins": notify.emit_check_ins_due(today=today),
    }


@shared_task(base=DurableTask, name="notifications.tasks.purge_old_notifications")
def purge_old_notifications(now_iso: str | None = None) -> int:
    """Delete in-app notifications older than NOTIFICATIONS_KEEP_DAYS, and the events and mail
    records of that age nobody holds any more; set-based. Returns the notifications deleted."""
    now = datetime.datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    cutoff = now - datetime.timedelta(days=int(settings.NOTIFICATIONS_KEEP_DAYS))
    # Plain DELETE statements: nothing else refers to these rows once the ones below go
    # (a digest's lines are unlinked first), so Django need not load them to cascade.
    deleted = Notification.objects.filter(created_at__lt=cutoff)._raw_delete("default")
    old_mail = MailDelivery.objects.filter(created_at__lt=cutoff).exclude(
        state__in=[DeliveryState.PENDING, DeliveryState.SENDING]
    )
    MailDelivery.objects.filter(digest__in=old_mail).update(digest=None)
    old_mail._raw_delete("default")
    EventRecord.objects.filter(created_at__lt=cutoff).exclude(
        Exists(Notification.objects.filter(event=OuterRef("pk")))
    ).exclude(Exists(MailDelivery.objects.filter(event=OuterRef("pk"))))._raw_delete("default")
    return int(deleted)
