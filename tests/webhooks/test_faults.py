"""The page or API call that causes an event never fails because of webhooks: with the task
queue down the delivery is recorded, the lost send logged, and the sweep sends it later."""

import time

import pytest
from django.utils import timezone

from crm_alignment.celery import app as celery_app
from tests.faults.test_backing_services_down import broker_down  # noqa: F401  (fixture)
from webhooks import tasks
from webhooks.models import Delivery

from .conftest import flag_event

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("broker_down")
def test_with_the_broker_down_an_emitted_event_is_recorded_and_sent_later_by_the_sweep(
    admin_api, receiver, emit, caplog
):
    response = admin_api.post(
        "/api/webhooks/",
        {"name": "Ops", "url": receiver.url(), "events": ["flag.opened"]},
        format="json",
    )
    assert response.status_code == 201
    started = time.monotonic()
    emit(flag_event())  # raises nothing
    assert time.monotonic() - started < 10
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 0
    assert receiver.requests == []
    assert "Could not queue webhook delivery" in caplog.text

    # The broker is back (tasks run in-process here); the sweep finds the overdue delivery.
    celery_app.conf.task_always_eager = True
    Delivery.objects.update(next_attempt_at=timezone.now() - timezone.timedelta(minutes=5))
    assert tasks.sweep_deliveries() == 1
    delivery.refresh_from_db()
    assert delivery.status == "sent" and len(receiver.requests) == 1


@pytest.mark.usefixtures("broker_down")
def test_the_test_action_answers_while_the_broker_is_down(
    admin_api, receiver, django_capture_on_commit_callbacks
):
    created = admin_api.post(
        "/api/webhooks/",
        {"name": "Ops", "url": receiver.url(), "events": ["flag.opened"]},
        format="json",
    ).data
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(f"/api/webhooks/{created['id']}/test/")
    assert response.status_code == 202 and response.data["status"] == "pending"
    assert Delivery.objects.get().status == "pending"
