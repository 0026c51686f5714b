"""No stuck scans: time limits, retries after a lost database, redelivered messages, the sweep.

These run on either database with eager tasks; tests/integration/test_scan_faults.py does the
same with a real worker that is killed, a broker that restarts and a database connection that
is cut, on PostgreSQL + Redis."""

import datetime
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from alignment import engine, locks, tasks
from alignment.models import SCAN_SKIPPED_PREFIX, Flag, Scan, ScanKind, ScanState, Snapshot
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def loose(db):
    return ProjectFactory(title="Loose", sponsor=None)


@pytest.fixture(autouse=True)
def _eager_retries():
    """Eager tasks run their retries inline only when exceptions are not propagated at once;
    the outcome is then in the result (`.get()` raises the final exception)."""
    from crm_alignment.celery import app

    old = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = old


def _ago(seconds: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(seconds=seconds)


def _flags() -> set:
    return set(Flag.objects.values_list("rule", "subject_type", "subject_id", "state"))


# --- The sweep -------------------------------------------------------------------------------


def test_the_sweep_ends_a_running_scan_whose_worker_is_gone_and_says_why(settings):
    stale_after = settings.ALIGNMENT_SCAN_STALE_SECONDS
    gone = Scan.objects.create(state=ScanState.RUNNING, started_at=_ago(stale_after + 5))
    busy = Scan.objects.create(state=ScanState.RUNNING, started_at=_ago(stale_after - 30))
    assert tasks.sweep_stale_scans() == 1
    gone.refresh_from_db()
    busy.refresh_from_db()
    assert gone.state == ScanState.FAILED and gone.finished_at is not None
    assert gone.error == engine.stale_running_message()
    assert f"within {stale_after} seconds" in gone.error and "Nothing it changed" in gone.error
    assert busy.state == ScanState.RUNNING and busy.error == ""


def test_the_sweep_ends_a_queued_scan_whose_message_was_lost_and_says_why(settings):
    settings.ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS = 600
    lost = Scan.objects.create(state=ScanState.QUEUED)
    Scan.objects.filter(pk=lost.pk).update(created_at=_ago(601))
    fresh = Scan.objects.create(state=ScanState.QUEUED)
    # Waiting to retry (it had started, then found another scan holding the lock): measured
    # from its last start, not from when it was first requested.
    waiting = Scan.objects.create(state=ScanState.QUEUED, started_at=_ago(30))
    Scan.objects.filter(pk=waiting.pk).update(created_at=_ago(3600))
    assert engine.sweep_stale_scans() == 1
    states = dict(Scan.objects.values_list("pk", "state"))
    assert states == {
        lost.pk: ScanState.FAILED,
        fresh.pk: ScanState.QUEUED,
        waiting.pk: ScanState.QUEUED,
    }
    lost.refresh_from_db()
    assert lost.error == engine.stale_queued_message()
    assert "within 10 minutes" in lost.error and "message was lost" in lost.error


def test_the_sweep_leaves_finished_scans_alone(settings):
    old = _ago(settings.ALIGNMENT_SCAN_STALE_SECONDS * 10)
    done = Scan.objects.create(state=ScanState.DONE, started_at=old, finished_at=old)
    failed = Scan.objects.create(state=ScanState.FAILED, started_at=old, error="Its own reason")
    assert engine.sweep_stale_scans() == 0
    done.refresh_from_db()
    failed.refresh_from_db()
    assert (done.state, failed.state, failed.error) == (
        ScanState.DONE,
        ScanState.FAILED,
        "Its own reason",
    )


def test_the_sweep_takes_the_snapshot_a_stopped_worker_left_out(loose, settings):
    """A worker stopped between the scan's commit and its snapshot: the flags are kept, and the
    sweep, once its grace has passed, takes the newest full scan's snapshot (only that one: an
    older scan's figures would be superseded)."""
    older = engine.scan_full(snapshot=False)
    newest = engine.scan_full(snapshot=False)
    assert newest.state == ScanState.DONE and Flag.objects.filter(rule="project.untraced").exists()
    # Within the grace its own task may still be taking it: left alone.
    tasks.sweep_stale_scans()
    assert not Snapshot.objects.exists()
    grace = settings.ALIGNMENT_SCAN_SWEEP_SECONDS
    Scan.objects.filter(pk__in=[older.pk, newest.pk]).update(finished_at=_ago(grace + 5))
    Scan.objects.filter(pk=older.pk).update(finished_at=_ago(grace + 60))
    tasks.sweep_stale_scans()
    assert list(Snapshot.objects.values_list("scan_id", "projects_total")) == [(newest.pk, 1)]
    # Once taken, the sweep has nothing more to do.
    assert engine.snapshots_missing(timezone.now()) == []
    tasks.sweep_stale_scans()
    assert Snapshot.objects.count() == 1


def test_a_snapshot_without_the_database_is_left_to_the_sweep(loose, monkeypatch):
    def lost(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(engine, "_take_snapshot", lost)
    done = engine.scan_full()
    assert done.state == ScanState.DONE
    assert not Snapshot.objects.exists()
    assert engine.snapshots_missing(timezone.now() + datetime.timedelta(seconds=1)) == [done.pk]


def test_the_sweep_runs_on_the_beat_schedule(settings):
    beat = settings.CELERY_BEAT_SCHEDULE.values()
    schedule = {entry["task"]: entry["schedule"] for entry in beat}
    assert schedule["alignment.tasks.sweep_stale_scans"] == settings.ALIGNMENT_SCAN_SWEEP_SECONDS


def test_a_message_that_turns_up_after_the_sweep_ended_its_scan_does_not_run_it(loose, settings):
    settings.ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS = 60
    lost = Scan.objects.create(state=ScanState.QUEUED)
    Scan.objects.filter(pk=lost.pk).update(created_at=_ago(61))
    engine.sweep_stale_scans()
    assert tasks.run_full_scan.apply(args=[lost.pk]).get() == lost.pk
    lost.refresh_from_db()
    assert lost.state == ScanState.FAILED and lost.error == engine.stale_queued_message()
    assert not Flag.objects.exists()


def test_timings_agree_so_a_running_task_is_never_handed_out_twice(settings):
    limit = settings.ALIGNMENT_SCAN_TIME_LIMIT_SECONDS
    hard = settings.ALIGNMENT_SCAN_HARD_TIME_LIMIT_SECONDS
    visibility = settings.CELERY_BROKER_VISIBILITY_TIMEOUT_SECONDS
    assert limit > settings.ALIGNMENT_SCAN_LOCK_WAIT_SECONDS
    assert limit < tasks.ScanTask.soft_time_limit < tasks.ScanTask.time_limit == hard
    assert hard < visibility < settings.ALIGNMENT_SCAN_STALE_SECONDS
    assert tasks.ScanTask.retry_backoff_max <= visibility // 2
    assert visibility > tasks.BUSY_RETRY_SECONDS


# --- Redelivered and retried messages ----------------------------------------------------------


def test_a_redelivered_message_of_a_finished_scan_changes_nothing(loose):
    first = tasks.run_full_scan.apply(task_id="message-1")
    scan = Scan.objects.get(task_id="message-1")
    assert first.get() == scan.pk and scan.state == ScanState.DONE and scan.opened > 0
    flags = _flags()
    again = tasks.run_full_scan.apply(task_id="message-1")
    assert again.get() is None
    assert Scan.objects.count() == 1 and _flags() == flags
    scan.refresh_from_db()
    assert scan.attempts == 1 and scan.opened > 0


def test_a_scan_left_running_by_a_killed_worker_finishes_when_its_message_comes_back(loose):
    # The worker died mid-scan: the transaction rolled back, the record says running.
    left = Scan.objects.create(
        kind=ScanKind.PARTIAL, state=ScanState.RUNNING, task_id="recheck-1", attempts=1
    )
    left.started_at = _ago(400)
    left.save()
    assert tasks.recheck_projects.apply(args=[[loose.pk]], task_id="recheck-1").get() == left.pk
    left.refresh_from_db()
    assert (left.state, left.attempts, left.error) == (ScanState.DONE, 2, "")
    assert Flag.objects.filter(project=loose, rule="project.no_sponsor").exists()


def test_a_scan_whose_worker_keeps_dying_is_given_up_after_the_configured_attempts(loose, settings):
    settings.ALIGNMENT_SCAN_MAX_ATTEMPTS = 3
    doomed = Scan.objects.create(
        state=ScanState.RUNNING, task_id="poison", attempts=3, started_at=_ago(5)
    )
    assert tasks.run_full_scan.apply(task_id="poison").get() is None
    doomed.refresh_from_db()
    assert doomed.state == ScanState.FAILED and doomed.attempts == 4
    assert doomed.error.startswith("Gave up after 3 attempts")
    assert not Flag.objects.exists()


class _LoseTheDatabase:
    """evaluate() loses its connection the first `times` calls, then works."""

    def __init__(self, monkeypatch, times: int) -> None:
        self.left = times
        self.real = engine.evaluate
        monkeypatch.setattr(engine, "evaluate", self)

    def __call__(self, *args, **kwargs):
        if self.left:
            self.left -= 1
            raise OperationalError("server closed the connection unexpectedly")
        return self.real(*args, **kwargs)


def test_a_scan_that_loses_the_database_is_not_marked_failed_but_raises_for_a_retry(
    loose, monkeypatch
):
    _LoseTheDatabase(monkeypatch, times=1)
    with pytest.raises(engine.DatabaseUnavailable, match="server closed the connection"):
        engine.scan_full(task_id="lost-db")
    scan = Scan.objects.get(task_id="lost-db")
    # Nothing written about it: the database it would be written to may be gone.
    assert scan.state == ScanState.RUNNING and scan.error == ""
    assert not Flag.objects.exists()


def test_a_scan_task_retries_after_losing_the_database_and_finishes(loose, monkeypatch):
    _LoseTheDatabase(monkeypatch, times=2)
    result = tasks.run_full_scan.apply(task_id="flaky-db")
    scan = Scan.objects.get(task_id="flaky-db")
    assert result.get() == scan.pk
    assert (scan.state, scan.attempts, scan.error) == (ScanState.DONE, 3, "")
    assert Flag.objects.filter(rule="project.no_sponsor", subject_id=loose.pk).exists()


def test_a_scan_task_that_never_gets_the_database_back_gives_up_and_says_why(
    loose, monkeypatch, settings
):
    lost = _LoseTheDatabase(monkeypatch, times=100)
    with pytest.raises(engine.DatabaseUnavailable):
        tasks.run_full_scan.apply(task_id="db-gone").get()
    scan = Scan.objects.get(task_id="db-gone")
    assert scan.attempts == settings.ALIGNMENT_SCAN_MAX_ATTEMPTS == 100 - lost.left
    assert scan.state == ScanState.FAILED
    assert scan.error.startswith("Gave up: the database stayed unreachable")
    assert not Flag.objects.exists()


# --- Time limits -------------------------------------------------------------------------------


def test_a_scan_past_its_time_limit_stops_rolls_back_and_says_why(loose, settings):
    settings.ALIGNMENT_SCAN_TIME_LIMIT_SECONDS = 0
    with pytest.raises(engine.ScanTimedOut):
        tasks.run_full_scan.apply(task_id="slow").get()
    scan = Scan.objects.get(task_id="slow")
    assert scan.state == ScanState.FAILED and scan.attempts == 1  # a timeout is not retried
    assert scan.error.startswith("Stopped after its time limit of 0 seconds")
    assert not Flag.objects.exists()


@pytest.mark.postgres
def test_postgresql_cuts_a_statement_that_runs_past_the_scan_deadline(loose, settings, monkeypatch):
    settings.ALIGNMENT_SCAN_TIME_LIMIT_SECONDS = 1

    def sleepy(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(30)")

    monkeypatch.setattr(engine, "evaluate", sleepy)
    started = timezone.now()
    with pytest.raises(engine.ScanTimedOut):
        engine.scan_full(task_id="sleepy")
    assert timezone.now() - started < datetime.timedelta(seconds=15)
    scan = Scan.objects.get(task_id="sleepy")
    assert scan.state == ScanState.FAILED and "time limit of 1 seconds" in scan.error


# --- Waiting for the lock ----------------------------------------------------------------------


@contextmanager
def _lock_held(*args, **kwargs):
    raise locks.ScanBusy("another scan held the lock for more than 120 seconds")
    yield  # pragma: no cover


def test_an_edits_full_scan_that_finds_the_lock_held_waits_queued_then_runs(loose, monkeypatch):
    monkeypatch.setattr(locks, "scan_lock", _lock_held)
    with pytest.raises(locks.ScanBusy):
        engine.scan_full(task_id="edit-scan", busy_requeue=True)
    waiting = Scan.objects.get(task_id="edit-scan")
    assert waiting.state == ScanState.QUEUED
    assert waiting.error.startswith("Waiting: another scan held the lock")
    monkeypatch.undo()
    assert engine.scan_full(task_id="edit-scan").pk == waiting.pk
    waiting.refresh_from_db()
    assert (waiting.state, waiting.attempts, waiting.error) == (ScanState.DONE, 2, "")


def test_an_edits_scan_that_never_gets_the_lock_is_recorded_as_skipped(loose, monkeypatch):
    monkeypatch.setattr(locks, "scan_lock", _lock_held)
    with pytest.raises(locks.ScanBusy):
        tasks.run_full_scan.apply(kwargs={"retry_when_busy": True}, task_id="never").get()
    scan = Scan.objects.get(task_id="never")
    assert scan.state == ScanState.FAILED and scan.error.startswith(SCAN_SKIPPED_PREFIX)
    assert scan.attempts == tasks.ScanTask.max_retries + 1


def test_a_periodic_scan_that_finds_the_lock_held_is_skipped_at_once(loose, monkeypatch):
    monkeypatch.setattr(locks, "scan_lock", _lock_held)
    tasks.run_full_scan.apply(task_id="periodic")
    scan = Scan.objects.get(task_id="periodic")
    assert scan.state == ScanState.FAILED and scan.error.startswith(SCAN_SKIPPED_PREFIX)
    assert scan.attempts == 1
