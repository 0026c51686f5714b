"""Celery tasks for webhook deliveries, with plain id arguments, on the scans' footing
(core.tasks.DurableTask: acknowledged when done, a lost database retried with backoff).

A delivery's record is the truth: the task claims it, tries once, records the outcome and
queues the next try itself (2, 4, 8, … seconds later). Should a queued try be lost (a broker
restart, a publish that failed after commit), the beat sweep queues it again; a claim keeps two
copies of a task from sending it twice."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from core.tasks import DurableTask

from . import sending

log = logging.getLogger(__name__)


class DeliveryTask(DurableTask):
    autoretry_for = (OperationalError, InterfaceError)


@shared_task(bind=True, base=DeliveryTask)
def send_delivery(self: Task, delivery_id: int) -> None:
    retry_in = sending.send(delivery_id)
    if retry_in is not None:
        queue([delivery_id], countdown=retry_in)


def queue(delivery_ids: Iterable[int], *, countdown: float = 0) -> None:
    """Queue the sends; a broker that does not answer is logged, not raised (the page or task
    that caused it carries on, and the sweep queues the deliveries again)."""
    for delivery_id in delivery_ids:
        try:
            send_delivery.apply_async((delivery_id,), countdown=countdown or None)
        except Exception:
            log.exception("Could not queue webhook delivery %s; the sweep will", delivery_id)


@shared_task(acks_late=True, ignore_result=True)
def sweep_deliveries() -> int:
    """Queue again the pending deliveries whose send was lost (beat, every
    WEBHOOK_SWEEP_SECONDS)."""
    ids = sending.due(overdue_by=datetime.timedelta(seconds=settings.WEBHOOK_SWEEP_SECONDS))
    queue(ids)
    return len(ids)
