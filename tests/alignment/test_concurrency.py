"""Two scans at once on PostgreSQL: the advisory lock serialises them into one result."""

import threading

import pytest
from django.db import connection, connections, transaction

from alignment import engine, locks
from alignment.models import Flag, FlagState, Scan, ScanState
from tests.factories import (
    CRMStrategyFactory,
    FeatureFactory,
    GoalFactory,
    ProjectFactory,
    ProjectLinkFactory,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_thread(fn, results, key, barrier=None):
    def run():
        try:
            if barrier is not None:
                barrier.wait(timeout=10)
            results[key] = fn()
        except Exception as exc:  # reported by the test, not swallowed
            results[key] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.fixture(autouse=True)
def _no_live_rechecks(monkeypatch):
    """These tests commit for real; keep the edit-triggered re-checks out of the way."""
    from alignment import receivers

    monkeypatch.setattr(receivers, "queue_full_recheck", lambda: None)
    monkeypatch.setattr(receivers, "queue_project_recheck", lambda ids, left=None: None)


def _portfolio():
    for n in range(20):
        project = ProjectFactory(title=f"Loose {n}", sponsor=None)
        FeatureFactory(project=project)
    CRMStrategyFactory(serves=[])
    GoalFactory()


def test_two_scans_started_at_once_give_one_consistent_result():
    _portfolio()
    results: dict = {}
    barrier = threading.Barrier(2)
    threads = [_in_thread(engine.scan_full, results, key, barrier) for key in ("a", "b")]
    for thread in threads:
        thread.join(timeout=60)
    scans = [results["a"], results["b"]]
    assert all(isinstance(s, Scan) and s.state == ScanState.DONE for s in scans), scans
    # One scan opened every flag; the other, serialised behind it, found them all in place.
    assert sorted(s.opened for s in scans) == [0, Flag.objects.count()]
    # A third scan agrees: same flag ids, nothing opened or resolved.
    before = set(Flag.objects.values_list("pk", flat=True))
    third = engine.scan_full()
    assert (third.opened, third.resolved) == (0, 0)
    assert set(Flag.objects.values_list("pk", flat=True)) == before
    rules_subjects = list(Flag.objects.values_list("rule", "subject_type", "subject_id"))
    assert len(rules_subjects) == len(set(rules_subjects))


def test_a_scan_waits_for_the_lock_then_gives_up_and_says_so(settings):
    settings.ALIGNMENT_SCAN_LOCK_WAIT_SECONDS = 1
    _portfolio()
    holding = threading.Event()
    release = threading.Event()

    def hold_lock():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [locks.NAMESPACE, locks.SCAN_KEY]
            )
            holding.set()
            release.wait(timeout=30)
        return "held"

    results: dict = {}
    holder = _in_thread(hold_lock, results, "holder")
    assert holding.wait(timeout=10)
    try:
        with pytest.raises(locks.ScanBusy):
            engine.scan_full()
    finally:
        release.set()
        holder.join(timeout=30)
    skipped = Scan.objects.get()
    assert skipped.state == ScanState.FAILED and "another scan held the lock" in skipped.error
    assert not Flag.objects.exists()
    assert engine.scan_full().state == ScanState.DONE


@pytest.mark.parametrize("edit", ["fixed", "deleted"])
def test_a_subject_edited_while_a_scan_runs_does_not_break_the_scan(monkeypatch, edit):
    loose = ProjectFactory(title="Loose")
    engine.scan_full()
    at_refresh, edited = threading.Event(), threading.Event()
    refresh = engine._refresh

    def pause_between_resolve_and_refresh(*args):
        at_refresh.set()
        edited.wait(timeout=30)
        return refresh(*args)

    monkeypatch.setattr(engine, "_refresh", pause_between_resolve_and_refresh)
    results: dict = {}
    scanning = _in_thread(engine.scan_full, results, "scan")
    assert at_refresh.wait(timeout=30)
    # The user's edit commits on its own connection while the scan is between statements.
    if edit == "fixed":
        ProjectLinkFactory(project=loose)
    else:
        loose.delete()
    edited.set()
    scanning.join(timeout=60)
    racing = results["scan"]
    assert isinstance(racing, Scan) and racing.state == ScanState.DONE, racing
    flag = Flag.objects.get(rule="project.untraced")
    assert (flag.state, flag.subject_label) == (FlagState.OPEN, "Loose")
    monkeypatch.setattr(engine, "_refresh", refresh)
    engine.scan_full()  # the re-check that edit queued
    flag.refresh_from_db()
    assert flag.state == FlagState.RESOLVED


def test_two_snapshots_of_one_scan_at_once_record_one(monkeypatch):
    """The scan's own task and the sweep's may take its snapshot at the same moment: both get
    the one that committed first, and neither fails."""
    from alignment.models import Snapshot

    _portfolio()
    scan = engine.scan_full(snapshot=False)
    barrier = threading.Barrier(2)
    take = engine._take_snapshot

    def together(scan_id, now):
        barrier.wait(timeout=10)  # both past the "already taken?" check
        return take(scan_id, now)

    monkeypatch.setattr(engine, "_take_snapshot", together)
    results: dict = {}
    threads = [
        _in_thread(lambda: engine.take_snapshot(scan.pk), results, key) for key in ("a", "b")
    ]
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(result, Snapshot) for result in results.values()), results
    assert results["a"].pk == results["b"].pk
    assert Snapshot.objects.filter(scan=scan).count() == 1
