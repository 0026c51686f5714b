"""core.bulk.insert_ignoring_conflicts: plain rows in one statement, constants on every row,
rows breaking a unique constraint skipped (on SQLite and on PostgreSQL)."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.bulk import insert_ignoring_conflicts
from notifications.models import DeliveryKind, EventRecord, MailDelivery, Notification
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WHEN = datetime.datetime(2026, 11, 2, 9, 30, tzinfo=datetime.UTC)


def _event(key: str) -> EventRecord:
    return EventRecord.objects.create(
        key=key,
        type="approval.requested",
        severity="info",
        subject_kind="project",
        subject_id=1,
        subject_title="Loyalty app",
        path="/projects/1/",
        summary="Waits for you",
        occurred_at=WHEN,
    )


def test_rows_and_constants_are_written_and_a_duplicate_is_skipped():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    first, second = _event("a"), _event("b")
    Notification.objects.create(user=alice, event=first, created_at=WHEN)
    rows = [(alice.pk, first.pk), (alice.pk, second.pk), (bob.pk, first.pk), (bob.pk, first.pk)]
    later = WHEN + datetime.timedelta(days=1)
    insert_ignoring_conflicts(Notification, ("user", "event"), rows, {"created_at": later})
    assert sorted(
        Notification.objects.values_list("user__username", "event__key", "created_at")
    ) == [("alice", "a", WHEN), ("alice", "b", later), ("bob", "a", later)]


def test_nullable_columns_enum_values_and_a_partial_unique_constraint():
    alice = UserFactory(username="alice")
    event = _event("a")
    constants = {
        "state": "pending",
        "to_address": "",
        "attempts": 0,
        "error": "",
        "created_at": WHEN,
    }
    columns = ("user", "event", "kind", "next_attempt_at")
    insert_ignoring_conflicts(
        MailDelivery, columns, [(alice.pk, event.pk, DeliveryKind.IMMEDIATE.value, WHEN)], constants
    )
    # The same person and event again (mail_once_per_event is a partial unique index).
    insert_ignoring_conflicts(
        MailDelivery,
        columns,
        [(alice.pk, event.pk, DeliveryKind.DIGEST_ITEM.value, None)],
        constants,
    )
    (delivery,) = MailDelivery.objects.all()
    assert (delivery.kind, delivery.next_attempt_at, delivery.state, delivery.created_at) == (
        "immediate",
        WHEN,
        "pending",
        WHEN,
    )


def test_no_rows_no_statement_and_many_rows_one_statement_on_postgresql():
    users = [UserFactory() for _ in range(3)]
    events = [_event(f"e{i}") for i in range(40)]
    with CaptureQueriesContext(connection) as none:
        insert_ignoring_conflicts(Notification, ("user", "event"), [], {"created_at": WHEN})
    assert len(none.captured_queries) == 0
    rows = [(u.pk, e.pk) for u in users for e in events]
    with CaptureQueriesContext(connection) as queries:
        insert_ignoring_conflicts(Notification, ("user", "event"), rows, {"created_at": WHEN})
    assert Notification.objects.count() == 120
    if connection.vendor == "postgresql":
        assert len(queries.captured_queries) == 1
