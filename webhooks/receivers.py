"""The receiver of core.events.emitted: one delivery per subscribed webhook and event, written
in the emitter's transaction, sent after it commits."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, transaction
from django.dispatch import receiver
from django.utils import timezone

from core import events

from . import payloads
from .models import Delivery, DeliveryStatus, Webhook

log = logging.getLogger(__name__)


@receiver(events.emitted, dispatch_uid="webhooks.record_deliveries")
def record_deliveries(sender: Any, **kwargs: Any) -> None:
    batch = [event for event in kwargs["events"] if events.CATALOGUE[event.type].webhook]
    if not batch:
        return
    try:
        # A savepoint: should the webhooks' tables fail, the emitter's change still commits
        # (the event reaches its other receivers; the log says what was lost here).
        with transaction.atomic():
            created = _record(batch)
    except DatabaseError:
        log.exception("Could not record webhook deliveries for %s", [e.key for e in batch])
        return
    if created:
        keys = sorted({event.key for event in batch})
        transaction.on_commit(lambda: _queue_new(keys))


def _record(batch: list[events.Event]) -> int:
    webhooks = list(Webhook.objects.filter(is_active=True).only("id", "events", "format"))
    now = timezone.now()
    rows = [
        Delivery(
            webhook_id=webhook.pk,
            event_type=event.type,
            event_key=event.key[:200],
            payload=payloads.payload_for(event, webhook.format),
            next_attempt_at=now,
        )
        for event in batch
        for webhook in webhooks
        if event.type in (webhook.events or [])
    ]
    if rows:
        # Emitting the same event twice records it once (the unique webhook + key).
        Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _queue_new(keys: list[str]) -> None:
    from .tasks import queue

    try:
        ids = list(
            Delivery.objects.filter(
                event_key__in=keys, status=DeliveryStatus.PENDING, attempts=0
            ).values_list("pk", flat=True)
        )
    except DatabaseError:
        log.exception("Could not read the new webhook deliveries; the sweep will send them")
        return
    queue(ids)
