"""Webhook deliveries on a real Celery worker (PostgreSQL + Redis): the event committed by the
test is recorded, queued on commit, POSTed by the worker to the receiver on 127.0.0.1, retried
after its 500 with a real backoff, and recorded as sent."""

import hashlib
import hmac

import pytest
from django.db import transaction

from core import events
from tests.integration.conftest import (
    Worker,
    own_queue,  # noqa: F401  (autouse: a queue of this test's own)
    require_services,
    wait_for,
)
from webhooks.models import Delivery, Webhook

from .conftest import flag_event

pytestmark = [
    pytest.mark.services,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

WORKER_ENV = {
    "WEBHOOK_ALLOWED_PRIVATE_NETWORKS": "127.0.0.1",
    "DJANGO_ALLOWED_HOSTS": "testserver,crm.example.com",
    "SITE_URL": "https://crm.example.com",
    "WEBHOOK_CONNECT_TIMEOUT_SECONDS": "1",
    "WEBHOOK_READ_TIMEOUT_SECONDS": "1",
    "WEBHOOK_MAX_ATTEMPTS": "3",
}


def test_a_worker_delivers_the_committed_event_retrying_after_a_500(tmp_path, receiver, admin_user):
    require_services()
    worker = Worker(tmp_path / "worker.log", env=WORKER_ENV)
    try:
        worker.wait_ready()
        webhook = Webhook.objects.create(
            name="Ops",
            url=receiver.url(),
            secret="w" * 40,
            events=[events.FLAG_OPENED],
            owner=admin_user,
        )
        receiver.script = [500, 200]
        with transaction.atomic():
            events.emit(flag_event())
        delivery = wait_for(
            lambda: Delivery.objects.filter(webhook=webhook, status="sent").first(),
            worker=worker,
            what="the delivery to be sent",
        )
        assert delivery.attempts == 2 and delivery.response_code == 200
        assert len(receiver.requests) == 2
        body = receiver.requests[1].body
        expected = hmac.new(b"w" * 40, body, hashlib.sha256).hexdigest()
        assert receiver.requests[1].headers["x-crm-alignment-signature"] == f"sha256={expected}"
        # The retry waited its backoff (about 2 seconds), not at once.
        first, second = Delivery.objects.get(pk=delivery.pk).created_at, delivery.last_attempt_at
        assert (second - first).total_seconds() >= 1.5
    finally:
        worker.stop()
