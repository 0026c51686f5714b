"""The board pack by mail, once a month, to the executives and sponsors who opted in: HTML and
plain text, the PDF attached, a one-click unsubscribe link (a signed token: no sign-in needed)
in the body and in the List-Unsubscribe header. Idempotent per person and month: the delivery
record (unique on person and month) is locked while the mail goes out, and a sent one is never
sent again; a refused or timed-out SMTP server is recorded and retried (reports.tasks)."""

from __future__ import annotations

import datetime
import logging
import smtplib
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.roles import Role

from . import pack
from .models import BoardPackDelivery, BoardPackSubscription, DeliveryState

log = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "reports.board-pack.unsubscribe"


class MailFailed(Exception):
    """The SMTP server refused the mail or did not answer; the task retries."""


def unsubscribe_token(user: Any) -> str:
    return signing.dumps({"u": user.pk}, salt=UNSUBSCRIBE_SALT, compress=True)


def user_for_unsubscribe(token: str) -> Any | None:
    """The user a token was made for, or None for a token that is forged or damaged."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    return get_user_model().objects.filter(pk=data["u"]).first()


def unsubscribe_url(user: Any) -> str:
    path = reverse("reports:unsubscribe", kwargs={"token": unsubscribe_token(user)})
    return settings.SITE_URL.rstrip("/") + path


def _subscribers() -> Any:
    """Active users with an address who opted in and may get the pack (executives, sponsors,
    admins): one query."""
    users = get_user_model().objects
    groups = users.model.groups.through.objects
    role = Exists(
        groups.filter(
            user_id=OuterRef("pk"), group__name__in=[Role.EXECUTIVE.value, Role.SPONSOR.value]
        )
    )
    opted_in = Exists(BoardPackSubscription.objects.filter(user_id=OuterRef("pk"), monthly=True))
    return users.filter(opted_in, Q(is_superuser=True) | role, is_active=True).exclude(email="")


def recipients_due(day: datetime.date) -> Iterator[int]:
    """Ids of the subscribers without a sent pack for the month of `day`."""
    month = day.replace(day=1)
    sent = BoardPackDelivery.objects.filter(
        user_id=OuterRef("pk"), month=month, state=DeliveryState.SENT
    )
    yield from (
        _subscribers().filter(~Exists(sent)).order_by("pk").values_list("pk", flat=True).iterator()
    )


def build_message(user: Any, pdf: bytes, month: datetime.date) -> EmailMultiAlternatives:
    context = {
        "user": user,
        "month": month,
        "site_url": settings.SITE_URL.rstrip("/"),
        "board_url": settings.SITE_URL.rstrip("/") + reverse("reports:board"),
        "unsubscribe_url": unsubscribe_url(user),
    }
    subject = f"Board pack for {month:%B %Y}"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("reports/mail/board_pack.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={
            "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(
        render_to_string("reports/mail/board_pack.html", context), "text/html"
    )
    message.attach(pack.filename_for(month), pdf, "application/pdf")
    return message


def send_monthly_pack(user_id: int, month: datetime.date, *, last_try: bool = False) -> str:
    """Mail the person their pack for `month` unless it was sent already, they opted out or
    may no longer get it. Returns "sent", "already sent", "skipped" or "failed"; raises
    MailFailed (to be retried) when the server refused and this was not the last try."""
    month = month.replace(day=1)
    user = _subscribers().filter(pk=user_id).first()
    if user is None or not pack.may_get_board_pack(user):
        return "skipped"
    error = ""
    with transaction.atomic():
        delivery, _created = BoardPackDelivery.objects.get_or_create(user=user, month=month)
        delivery = BoardPackDelivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.state == DeliveryState.SENT:
            return "already sent"
        pdf, _scope = pack.render_pdf(user)
        try:
            build_message(user, pdf, month).send()
        except (smtplib.SMTPException, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
        else:
            BoardPackDelivery.objects.filter(pk=delivery.pk).update(
                state=DeliveryState.SENT,
                sent_at=timezone.now(),
                attempts=F("attempts") + 1,
                error="",
            )
            return "sent"
    BoardPackDelivery.objects.filter(pk=delivery.pk).exclude(state=DeliveryState.SENT).update(
        state=DeliveryState.FAILED, error=error, attempts=F("attempts") + 1
    )
    log.warning("Board pack for user %s (%s) not sent: %s", user_id, month, error)
    if not last_try:
        raise MailFailed(error)
    return "failed"
