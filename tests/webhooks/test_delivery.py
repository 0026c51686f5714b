"""Webhooks end to end against a real HTTP receiver on 127.0.0.1: registered through the API by
an admin, an emitted event is POSTed once, signed; a 500 is retried; ten failures in a row pause
the webhook and tell its owner; a hanging receiver times out and a host that does not resolve is
retried, then given up; the address is checked again before each send."""

import hashlib
import hmac
import json

import pytest
from django.db import transaction
from django.utils import timezone

from core import events
from webhooks import tasks
from webhooks.models import Delivery, DeliveryStatus, Webhook

from .conftest import HANG, flag_event

pytestmark = pytest.mark.django_db


def register(admin_api, url, **extra):
    body = {"name": "CRM alerts", "url": url, "events": [events.FLAG_OPENED]} | extra
    response = admin_api.post("/api/webhooks/", body, format="json")
    assert response.status_code == 201, response.data
    return response.data


def test_an_event_reaches_the_receiver_once_signed_with_the_secret(admin_api, receiver, emit):
    created = register(admin_api, receiver.url())
    secret = created["secret"]
    assert len(secret) >= 32

    emit(flag_event())

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.path == "/hook"
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-crm-alignment-signature"] == expected
    assert request.headers["content-type"].startswith("application/json")
    assert request.json == {
        "event": "flag.opened",
        "key": "flag.opened:1:2026-11-28T04:00:00+00:00",
        "occurred_at": request.json["occurred_at"],
        "summary": "Critical flag on “Partner portal”: no CRM strategy.",
        "severity": "critical",
        "subject": {
            "kind": "project",
            "id": 12,
            "title": "Partner portal",
            "url": "https://crm.example.com/projects/12/",
        },
        "data": {"rule": "project.no_strategy", "explanation": "It serves no CRM strategy."},
    }
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("sent", 1, 200)
    assert delivery.sent_at is not None and delivery.error == ""


def test_a_signature_made_with_another_secret_does_not_match(admin_api, receiver, emit):
    register(admin_api, receiver.url(), secret="a-secret-the-receiver-knows")
    emit(flag_event())
    body = receiver.requests[0].body
    header = receiver.requests[0].headers["x-crm-alignment-signature"]
    right = hmac.new(b"a-secret-the-receiver-knows", body, hashlib.sha256).hexdigest()
    wrong = hmac.new(b"another-secret-entirely-000", body, hashlib.sha256).hexdigest()
    assert header == f"sha256={right}" and header != f"sha256={wrong}"


def test_the_same_event_emitted_twice_is_delivered_once(admin_api, receiver, emit):
    register(admin_api, receiver.url())
    emit(flag_event(1))
    emit(flag_event(1), flag_event(1))
    assert len(receiver.requests) == 1
    assert Delivery.objects.count() == 1


def test_a_rolled_back_change_delivers_nothing(
    admin_api, receiver, django_capture_on_commit_callbacks
):
    register(admin_api, receiver.url())
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events.emit(flag_event())
        transaction.set_rollback(True)
    assert receiver.requests == []
    assert not Delivery.objects.exists()


def test_only_subscribed_active_webhooks_get_the_event(admin_api, receiver, emit):
    register(admin_api, receiver.url("/flags"))
    register(admin_api, receiver.url("/approvals"), events=[events.APPROVAL_REQUESTED])
    off = register(admin_api, receiver.url("/off"))
    admin_api.patch(f"/api/webhooks/{off['id']}/", {"is_active": False}, format="json")
    emit(flag_event())
    assert [r.path for r in receiver.requests] == ["/flags"]


def test_the_slack_format_carries_a_readable_sentence_with_the_link(admin_api, receiver, emit):
    register(admin_api, receiver.url(), format="slack")
    emit(flag_event())
    body = receiver.requests[0].json
    assert body["text"] == (
        "Critical flag on “Partner portal”: no CRM strategy. https://crm.example.com/projects/12/"
    )
    assert body["event"] == "flag.opened"


def test_a_500_is_retried_with_the_same_signed_body_then_sent(admin_api, receiver, emit):
    receiver.script = [500, 200]
    register(admin_api, receiver.url())
    emit(flag_event())
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["x-crm-alignment-signature"] == second.headers["x-crm-alignment-signature"]
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("sent", 2, 200)
    assert Webhook.objects.get().consecutive_failures == 0


def test_a_4xx_is_not_retried(admin_api, receiver, emit):
    receiver.script = [404]
    register(admin_api, receiver.url())
    emit(flag_event())
    assert len(receiver.requests) == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 1, 404)
    assert "receiver broke" in delivery.error


def test_retries_stop_at_the_limit_and_the_delivery_says_so(admin_api, receiver, emit):
    receiver.script = [503]
    register(admin_api, receiver.url())
    emit(flag_event())
    assert len(receiver.requests) == 3  # WEBHOOK_MAX_ATTEMPTS
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("given_up", 3, 503)
    assert delivery.error.startswith("HTTP 503")


def test_ten_failures_in_a_row_pause_the_webhook_and_tell_its_owner(
    admin_api, admin_user, receiver, emit, captured_events, django_capture_on_commit_callbacks
):
    receiver.script = [500]
    created = register(admin_api, receiver.url())
    # 3 attempts each: 3 + 3 + 3 + 1 = the 10th failure, on the fourth event's first try.
    emit(*(flag_event(n) for n in range(1, 5)))

    assert len(receiver.requests) == 10
    webhook = Webhook.objects.get()
    assert webhook.paused_at is not None and webhook.consecutive_failures == 10
    paused = [e for e in captured_events if e.type == events.WEBHOOK_PAUSED]
    assert len(paused) == 1
    assert paused[0].recipients == (admin_user.pk,)
    assert paused[0].subject_kind == "webhook" and paused[0].subject_id == webhook.pk
    statuses = sorted(Delivery.objects.values_list("status", flat=True))
    assert statuses == ["given_up", "given_up", "given_up", "pending"]

    # Paused: a new event is recorded, held, not sent.
    emit(flag_event(5))
    assert len(receiver.requests) == 10
    assert Delivery.objects.filter(status="pending").count() == 2
    detail = admin_api.get(f"/api/webhooks/{created['id']}/").data
    assert detail["paused_at"] is not None and detail["consecutive_failures"] == 10

    # Resumed once the receiver works: what was held is sent, the count starts again.
    receiver.script = [200]
    receiver.requests.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(f"/api/webhooks/{created['id']}/resume/")
    assert response.status_code == 200 and response.data["paused_at"] is None
    assert len(receiver.requests) == 2
    assert not Delivery.objects.filter(status="pending").exists()
    webhook.refresh_from_db()
    assert webhook.paused_at is None and webhook.consecutive_failures == 0


def test_a_success_resets_the_failure_count(admin_api, receiver, emit):
    receiver.script = [500, 500, 200]
    register(admin_api, receiver.url())
    emit(flag_event(1))
    assert Webhook.objects.get().consecutive_failures == 0
    assert Delivery.objects.get().attempts == 3


def test_a_hanging_receiver_times_out_and_is_retried(admin_api, receiver, emit):
    receiver.script = [HANG, 200]
    register(admin_api, receiver.url())
    started = timezone.now()
    emit(flag_event())
    assert (timezone.now() - started).total_seconds() < 8
    assert len(receiver.requests) == 2
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("sent", 2)


def test_a_receiver_that_always_hangs_is_given_up_with_the_reason(admin_api, receiver, emit):
    receiver.script = [HANG]
    register(admin_api, receiver.url())
    emit(flag_event())
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("given_up", 3, None)
    assert delivery.error.startswith("Timed out")


def test_a_host_that_no_longer_resolves_is_retried_then_given_up(admin_user, emit):
    # Saved while its name resolved (a save refuses a name that does not: test_addresses).
    Webhook.objects.create(
        name="Gone",
        url="http://receiver.invalid/hook",
        secret="x" * 32,
        events=[events.FLAG_OPENED],
        owner=admin_user,
    )
    emit(flag_event())
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("given_up", 3, None)
    assert "receiver.invalid does not resolve" in delivery.error
    assert Webhook.objects.get().consecutive_failures == 3


def test_the_address_is_checked_again_before_each_send(admin_api, receiver, emit, settings):
    register(admin_api, receiver.url())
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = []
    emit(flag_event())
    assert receiver.requests == []
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.error.startswith("Refused:") and "127.0.0.1" in delivery.error


def test_the_sweep_sends_a_delivery_whose_queued_send_was_lost(admin_api, receiver, settings):
    created = register(admin_api, receiver.url())
    # Recorded when the event happened, but its queued task never ran (no on_commit here).
    with transaction.atomic():
        events.emit(flag_event())
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and receiver.requests == []
    assert tasks.sweep_deliveries() == 0  # not overdue yet: its task may still come
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timezone.timedelta(seconds=120)
    )
    assert tasks.sweep_deliveries() == 1
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.webhook_id == created["id"]


def test_a_claimed_delivery_is_not_sent_twice(admin_api, receiver):
    register(admin_api, receiver.url())
    with transaction.atomic():
        events.emit(flag_event())
    delivery = Delivery.objects.get()
    tasks.send_delivery(delivery.pk)
    tasks.send_delivery(delivery.pk)  # a second copy of the task: already sent
    assert len(receiver.requests) == 1


def test_the_test_action_sends_a_test_event_to_this_webhook_alone(
    admin_api, receiver, django_capture_on_commit_callbacks
):
    created = register(admin_api, receiver.url("/one"))
    register(admin_api, receiver.url("/two"))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(f"/api/webhooks/{created['id']}/test/")
    assert response.status_code == 202
    assert [r.path for r in receiver.requests] == ["/one"]
    assert receiver.requests[0].json["event"] == "webhook.test"
    log = admin_api.get(f"/api/webhooks/{created['id']}/deliveries/").data
    assert log["count"] == 1 and log["results"][0]["status"] == "sent"
    assert log["results"][0]["response_code"] == 200


def test_the_delivery_log_lists_each_try_outcome(admin_api, receiver, emit):
    receiver.script = [404]
    created = register(admin_api, receiver.url())
    emit(flag_event(1))
    row = admin_api.get(f"/api/webhooks/{created['id']}/deliveries/").data["results"][0]
    assert row["status"] == DeliveryStatus.FAILED
    assert row["attempts"] == 1 and row["response_code"] == 404
    assert row["event_type"] == "flag.opened" and json.dumps(row["payload"])
