"""Bulk decisions on PostgreSQL: every flag's row is locked and decided in its own transaction
(as a single decision), so two people deciding the same flags at once each get a true answer
per flag, and no deadlock."""

import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from alignment.models import Flag, FlagState
from alignment.services import flags_decide_in_bulk
from tests.alignment.test_bulk_decisions import make_flag
from tests.alignment.test_concurrency import _in_thread, _no_live_rechecks  # noqa: F401
from tests.factories import ProjectFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_bulk_decision_locks_each_flag_s_row(sponsor):
    flags = [make_flag(ProjectFactory(sponsor=sponsor)) for _ in range(3)]

    with CaptureQueriesContext(connection) as captured:
        flags_decide_in_bulk(actor=sponsor, action="acknowledge", flag_ids=[f.pk for f in flags])

    sql = [q["sql"] for q in captured]
    assert len([s for s in sql if "FOR UPDATE" in s]) == 3
    assert set(Flag.objects.values_list("state", flat=True)) == {FlagState.ACKNOWLEDGED}


def test_two_bulk_acknowledgements_of_the_same_flags_at_once_decide_each_flag_once():
    executives = [UserFactory(roles=["executive"]) for _ in range(2)]
    flags = [make_flag(ProjectFactory()) for _ in range(20)]
    ids = [f.pk for f in flags]
    results: dict = {}
    barrier = threading.Barrier(2)
    # Opposite orders: with one lock held at a time, they cannot deadlock.
    threads = [
        _in_thread(
            lambda actor=actor, order=order: flags_decide_in_bulk(
                actor=actor, action="acknowledge", flag_ids=order
            ),
            results,
            key,
            barrier,
        )
        for key, actor, order in (("a", executives[0], ids), ("b", executives[1], ids[::-1]))
    ]
    for thread in threads:
        thread.join(timeout=60)
    connections.close_all()

    outcomes = [results["a"], results["b"]]
    assert all(isinstance(o, list) for o in outcomes), outcomes
    for flag_id in ids:
        statuses = sorted(o.status for run in outcomes for o in run if o.flag_id == flag_id)
        assert statuses == ["done", "refused"], (flag_id, statuses)
    stored = Flag.objects.filter(pk__in=ids)
    assert {f.state for f in stored} == {FlagState.ACKNOWLEDGED}
    done_by = {o.flag_id: key for key, run in results.items() for o in run if o.status == "done"}
    winners = {"a": executives[0].pk, "b": executives[1].pk}
    assert {f.pk: f.acknowledged_by_id for f in stored} == {
        pk: winners[key] for pk, key in done_by.items()
    }
