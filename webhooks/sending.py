"""Sending one delivery: claim it, check the address again, POST the signed body, record what
happened (sent, to be retried, failed, given up), and pause a webhook that keeps failing.

HTTP is urllib3's: the connection goes to an address `addresses.resolve` just checked (the host
name is not resolved a second time), with the name in the Host header and, for https, in SNI and
the certificate check. No redirect is followed; the answer's body is read only as far as an
error message needs."""

from __future__ import annotations

import datetime
import logging
import random
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import events

from . import addresses, payloads
from .models import Delivery, DeliveryStatus, Webhook

log = logging.getLogger(__name__)

USER_AGENT = "CRM-Strategy-Alignment-Webhooks/1"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    # Worth another try (5xx, 408, 429, timeout, connection or DNS failure).
    retry: bool
    response_code: int | None = None
    error: str = ""


def post(url: str, address: addresses.IPAddress, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST `body` to `url`, connecting to `address`."""
    parts = urlsplit(url)
    https = parts.scheme.lower() == "https"
    port = parts.port or (443 if https else 80)
    hostname = parts.hostname or ""
    host_header = hostname if ":" not in hostname else f"[{hostname}]"
    if parts.port:
        host_header = f"{host_header}:{parts.port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = urllib3.Timeout(
        connect=settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS,
        read=settings.WEBHOOK_READ_TIMEOUT_SECONDS,
    )
    pool: urllib3.HTTPConnectionPool
    if https:
        pool = urllib3.HTTPSConnectionPool(
            str(address),
            port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            server_hostname=hostname,
            assert_hostname=hostname,
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            str(address), port, timeout=timeout, retries=False, maxsize=1
        )
    try:
        with pool:
            response = pool.urlopen(
                "POST",
                target,
                body=body,
                headers={**headers, "Host": host_header, "User-Agent": USER_AGENT},
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
            try:
                excerpt = response.read(300, decode_content=False)
            finally:
                response.release_conn()
    except urllib3.exceptions.TimeoutError as exc:
        return Outcome(ok=False, retry=True, error=f"Timed out: {exc}"[:500])
    except urllib3.exceptions.HTTPError as exc:
        return Outcome(ok=False, retry=True, error=f"Connection failed: {exc}"[:500])
    code = response.status
    if 200 <= code < 300:
        return Outcome(ok=True, retry=False, response_code=code)
    text = excerpt.decode("utf-8", "replace").strip()
    error = f"HTTP {code}" + (f": {text}" if text else "")
    if 300 <= code < 400:
        error = f"HTTP {code}: redirects are not followed; register the final address."
    retry = code >= 500 or code in (408, 429)
    return Outcome(ok=False, retry=retry, response_code=code, error=error[:500])


def lease() -> datetime.timedelta:
    """How long a worker holds a delivery it is sending (longer than any one POST)."""
    return datetime.timedelta(
        seconds=3
        * (settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS + settings.WEBHOOK_READ_TIMEOUT_SECONDS)
    )


def backoff(attempts: int) -> float:
    """Seconds before try `attempts + 1`: 2, 4, 8, … (with jitter), capped."""
    delay = min(2.0**attempts, float(settings.WEBHOOK_RETRY_MAX_SECONDS))
    return delay * random.uniform(0.8, 1.2)


def sendable() -> Q:
    """Deliveries that may be sent now: pending, of a webhook that is on and not paused."""
    return Q(
        status=DeliveryStatus.PENDING,
        webhook__is_active=True,
        webhook__paused_at__isnull=True,
    )


def claim(delivery_id: int) -> Delivery | None:
    """Take the delivery for this worker (None: sent, held by another worker, or held back)."""
    now = timezone.now()
    taken = (
        Delivery.objects.filter(sendable(), pk=delivery_id)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + lease())
    )
    if not taken:
        return None
    return Delivery.objects.select_related("webhook").get(pk=delivery_id)


def attempt(delivery: Delivery) -> Outcome:
    """One try: the address checked again, then the signed POST."""
    webhook = delivery.webhook
    body = payloads.encode(delivery.payload)
    try:
        checked = addresses.resolve(webhook.url)
    except addresses.Unresolvable as exc:
        return Outcome(ok=False, retry=True, error=str(exc)[:500])
    except ValidationError as exc:
        return Outcome(ok=False, retry=False, error=f"Refused: {' '.join(exc.messages)}"[:500])
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        payloads.SIGNATURE_HEADER: payloads.signature(webhook.secret, body),
        "X-CRM-Alignment-Event": delivery.event_type,
        "X-CRM-Alignment-Delivery": str(delivery.pk),
    }
    return post(webhook.url, checked[0], body, headers)


def send(delivery_id: int) -> float | None:
    """Send one delivery and record the outcome. Returns the seconds until the next try when
    one is due, else None."""
    delivery = claim(delivery_id)
    if delivery is None:
        return None
    try:
        outcome = attempt(delivery)
    except Exception as exc:  # a fault of ours must not leave the delivery claimed and silent
        log.exception("Webhook delivery %s failed unexpectedly", delivery_id)
        outcome = Outcome(ok=False, retry=True, error=f"Unexpected error: {type(exc).__name__}")
    return record(delivery, outcome)


def record(delivery: Delivery, outcome: Outcome) -> float | None:
    now = timezone.now()
    retry_in: float | None = None
    with transaction.atomic():
        webhook = Webhook.objects.select_for_update().get(pk=delivery.webhook_id)
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.response_code = outcome.response_code
        delivery.error = outcome.error
        delivery.claimed_until = None
        if outcome.ok:
            delivery.status = DeliveryStatus.SENT
            delivery.sent_at = now
            delivery.error = ""
            webhook.consecutive_failures = 0
        else:
            if not outcome.retry:
                delivery.status = DeliveryStatus.FAILED
            elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
                delivery.status = DeliveryStatus.GIVEN_UP
            else:
                retry_in = backoff(delivery.attempts)
                delivery.next_attempt_at = now + datetime.timedelta(seconds=retry_in)
            webhook.consecutive_failures += 1
        pausing = (
            not outcome.ok
            and webhook.paused_at is None
            and webhook.consecutive_failures >= settings.WEBHOOK_PAUSE_AFTER_FAILURES
        )
        if pausing:
            webhook.paused_at = now
        delivery.save(
            update_fields=[
                "attempts",
                "last_attempt_at",
                "response_code",
                "error",
                "claimed_until",
                "status",
                "sent_at",
                "next_attempt_at",
            ]
        )
        # The failure bookkeeping is not an edit of the webhook: no history entry, no version.
        Webhook.objects.filter(pk=webhook.pk).update(
            consecutive_failures=webhook.consecutive_failures, paused_at=webhook.paused_at
        )
        if pausing:
            log.warning(
                "Webhook %s paused after %s failures", webhook.pk, webhook.consecutive_failures
            )
            events.emit(paused_event(webhook, outcome))
    if pausing:
        return None
    return retry_in


def paused_event(webhook: Webhook, outcome: Outcome) -> events.Event:
    paused_at = webhook.paused_at.isoformat() if webhook.paused_at else ""
    return events.Event(
        type=events.WEBHOOK_PAUSED,
        key=f"{events.WEBHOOK_PAUSED}:{webhook.pk}:{paused_at}",
        subject_kind="webhook",
        subject_id=webhook.pk,
        subject_title=webhook.name,
        path=f"/admin/webhooks/webhook/{webhook.pk}/change/",
        summary=(
            f"Webhook “{webhook.name}” was paused after {webhook.consecutive_failures} failed "
            "deliveries in a row; resume it once its receiver works again."
        ),
        recipients=(webhook.owner_id,),
        severity=events.WARNING,
        data={"url": webhook.url, "last_error": outcome.error},
    )


def due(*, overdue_by: datetime.timedelta) -> list[int]:
    """Pending deliveries whose try was due `overdue_by` ago and which no worker holds: their
    queued send was lost."""
    now = timezone.now()
    return list(
        Delivery.objects.filter(sendable(), next_attempt_at__lte=now - overdue_by)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:500]
    )
