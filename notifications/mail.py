"""Sending one mail delivery: claim it, render it (plain text and HTML, with the one-click
unsubscribe headers of RFC 8058), hand it to the mail backend, record what happened.

At most once: a delivery is claimed (`sending`, committed) before the mail server is called,
so a second task for the same delivery finds nothing to do. A refusal or a timeout puts it back
to `pending` with the error and the time of the next attempt (exponential backoff), until
NOTIFICATIONS_MAIL_MAX_ATTEMPTS attempts, then `failed`. A worker lost in the middle of a send
leaves it `sending`: the sweep marks it failed with that explanation instead of sending it
again, since the mail may already have left."""

from __future__ import annotations

import datetime
import logging
import smtplib
import socket
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core import events

from . import digest as digest_module
from .models import WEEKLY_DIGEST, DeliveryKind, DeliveryState, MailDelivery
from .services import absolute, unsubscribe_token

log = logging.getLogger(__name__)

SENT, RETRY, FAILED, NOTHING = "sent", "retry", "failed", "nothing"
# What a mail server or the network answers when a send fails; anything else is a fault of
# ours (a template, the data) and fails the delivery at once, with the error on record.
TRANSIENT_ERRORS = (smtplib.SMTPException, OSError, socket.timeout, TimeoutError)


def backoff_seconds(attempts: int) -> int:
    """Wait before attempt `attempts + 1`: the base, twice it, four times, … up to the maximum."""
    base = int(settings.NOTIFICATIONS_MAIL_BACKOFF_SECONDS)
    return int(
        min(base * 2 ** max(attempts - 1, 0), settings.NOTIFICATIONS_MAIL_BACKOFF_MAX_SECONDS)
    )


def _claim(delivery_id: int) -> MailDelivery | None:
    with transaction.atomic():
        delivery = (
            MailDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("user", "event")
            .filter(
                pk=delivery_id,
                state=DeliveryState.PENDING,
                kind__in=[DeliveryKind.IMMEDIATE, DeliveryKind.DIGEST],
            )
            .first()
        )
        if delivery is None:
            return None
        delivery.state = DeliveryState.SENDING
        delivery.attempts += 1
        delivery.last_attempt_at = timezone.now()
        delivery.to_address = delivery.user.email or ""
        delivery.save(update_fields=["state", "attempts", "last_attempt_at", "to_address"])
    return delivery


def _unsubscribe(user_id: int, event_type: str) -> str:
    return absolute(
        reverse("notifications:unsubscribe", args=[unsubscribe_token(user_id, event_type)])
    )


def _message(delivery: MailDelivery, connection: Any) -> tuple[EmailMultiAlternatives, list[int]]:
    """The mail and, for a digest, the ids of the digest lines it carries."""
    user = delivery.user
    context: dict[str, Any] = {
        "user": user,
        "site_url": absolute(""),
        "preferences_url": absolute(reverse("notifications:preferences")),
    }
    line_ids: list[int] = []
    if delivery.kind == DeliveryKind.DIGEST:
        assert delivery.week is not None
        content = digest_module.build(user, delivery.week)
        line_ids = content.line_ids
        unsubscribe_url = _unsubscribe(user.pk, WEEKLY_DIGEST)
        context.update(digest=content, unsubscribe_url=unsubscribe_url, what="the weekly digest")
        subject = f"Your CRM alignment digest, week of {delivery.week:%d %B %Y}"
        template = "notifications/email/digest"
    else:
        event = delivery.event
        assert event is not None
        unsubscribe_url = _unsubscribe(user.pk, event.type)
        context.update(
            event=event,
            event_type=events.CATALOGUE[event.type],
            subject_url=absolute(event.path),
            unsubscribe_url=unsubscribe_url,
            what=f"“{events.CATALOGUE[event.type].label}” mails",
        )
        prefix = "[Critical] " if event.severity == events.CRITICAL else ""
        subject = f"{prefix}{event.summary}"[:200]
        template = "notifications/email/event"
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=render_to_string(f"{template}.txt", context),
        to=[delivery.to_address],
        connection=connection,
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    return message, line_ids


def _record(delivery: MailDelivery, **changes: Any) -> None:
    MailDelivery.objects.filter(pk=delivery.pk, state=DeliveryState.SENDING).update(**changes)


def deliver(delivery_id: int) -> str:
    """One attempt at one delivery. Returns SENT, RETRY (pending again, due later), FAILED
    (given up, the reason on the record) or NOTHING (not pending: sent, claimed elsewhere)."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return NOTHING
    now = timezone.now()
    if not delivery.to_address:
        _record(delivery, state=DeliveryState.FAILED, error="The person has no e-mail address.")
        return FAILED
    try:
        connection = get_connection(fail_silently=False)
        message, line_ids = _message(delivery, connection)
        message.send(fail_silently=False)
    except TRANSIENT_ERRORS as exc:
        error = (
            f"Attempt {delivery.attempts} at {now:%Y-%m-%d %H:%M:%S} UTC: "
            f"{type(exc).__name__}: {exc}"
        )
        if delivery.attempts >= int(settings.NOTIFICATIONS_MAIL_MAX_ATTEMPTS):
            log.error("Mail delivery %s failed for good: %s", delivery.pk, error)
            _record(delivery, state=DeliveryState.FAILED, error=f"Gave up. {error}"[:2000])
            return FAILED
        due = now + datetime.timedelta(seconds=backoff_seconds(delivery.attempts))
        log.warning("Mail delivery %s failed, retrying at %s: %s", delivery.pk, due, error)
        _record(delivery, state=DeliveryState.PENDING, error=error[:2000], next_attempt_at=due)
        return RETRY
    except Exception as exc:
        log.exception("Mail delivery %s could not be built or sent", delivery.pk)
        _record(
            delivery,
            state=DeliveryState.FAILED,
            error=f"Not sent: {type(exc).__name__}: {exc}"[:2000],
        )
        return FAILED
    with transaction.atomic():
        _record(delivery, state=DeliveryState.SENT, sent_at=timezone.now(), error="")
        if line_ids:
            MailDelivery.objects.filter(pk__in=line_ids, state=DeliveryState.PENDING).update(
                state=DeliveryState.IN_DIGEST, digest=delivery, sent_at=timezone.now()
            )
    return SENT
