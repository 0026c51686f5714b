"""Faults in the middle of a scan, with a real worker on PostgreSQL + Redis: the worker is
killed (SIGKILL), the broker restarts, the database connection is cut. Every time the scan's
record ends `done` or `failed` within the configured times, nothing is half written, and the
flags end up equal to a clean scan's.

"Mid-scan" is made exact rather than timed: the test's own open transaction has inserted the
flag the scan is about to insert, so the scan's INSERT waits on the unique index, parked inside
its transaction having written the rules before that one, until the test rolls back.

The broker in the restart tests is a Redis server of the test's own (restarting the shared one
would upset parallel tests); a PostgreSQL restart is a cut connection here
(pg_terminate_backend on the worker's backend), which is what a restart does to a worker.
"""

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager

import pytest
import redis

from alignment import engine
from alignment.models import UNRESOLVED_STATES, Flag, Scan, ScanKind, ScanState, Snapshot
from alignment.selectors import portfolio_figures
from crm_alignment.celery import app as celery_app
from tests.factories import CRMStrategyFactory, ProjectFactory, ProjectLinkFactory, UserFactory

from .conftest import (
    Worker,
    backend_gone,
    backend_waiting,
    connect_pg,
    require_services,
    wait_for,
)

pytestmark = [
    pytest.mark.services,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

# Small limits so that the broker's redelivery and the sweep happen within a test:
# grace 5 s, hard limit 15 s, visibility timeout 20 s, stale after 20 + 2 * 1 + 5 = 27 s.
TIME_LIMIT = 10
FAST = {
    "ALIGNMENT_SCAN_TIME_LIMIT_SECONDS": str(TIME_LIMIT),
    "ALIGNMENT_SCAN_LOCK_WAIT_SECONDS": "5",
    "CELERY_BROKER_RESTORE_INTERVAL_SECONDS": "1",
    "ALIGNMENT_RECHECK_DELAY_SECONDS": "1",
}
VISIBILITY_TIMEOUT = 20
STALE_AFTER = 27
BLOCKED_RULE = "project.no_sponsor"


@pytest.fixture(autouse=True)
def _no_live_rechecks(monkeypatch):
    """The test's own edits would queue re-checks on the worker; keep them out of the way."""
    from alignment import receivers

    monkeypatch.setattr(receivers, "queue_full_recheck", lambda: None)
    monkeypatch.setattr(receivers, "queue_project_recheck", lambda ids, left=None: None)


def _unresolved() -> set:
    return set(
        Flag.objects.filter(state__in=UNRESOLVED_STATES).values_list(
            "rule", "subject_type", "subject_id", "state"
        )
    )


def _portfolio():
    """Flags from a clean scan, then edits so that the next scan has work in several rules
    before the one it will be parked in. Returns (the new project whose BLOCKED_RULE flag the
    next scan inserts, the flags before the edits)."""
    strategy = CRMStrategyFactory()
    manager = UserFactory()
    ProjectFactory(title="No sponsor", sponsor=None, manager=manager)
    untraced = [ProjectFactory(title=f"Untraced {n}", manager=manager) for n in range(3)]
    assert engine.scan_full().state == ScanState.DONE
    before = _unresolved()
    ProjectLinkFactory(project=untraced[0], crm_strategy=strategy)  # project.untraced resolves
    # Opens flags, among them BLOCKED_RULE's.
    parked_on = ProjectFactory(title="New and untraced", sponsor=None, manager=manager)
    return parked_on, before


def _clean_scan_agrees() -> None:
    """What the faulted scan left is what a clean scan gives: it changes nothing."""
    flags = _unresolved()
    clean = engine.scan_full()
    assert (clean.state, clean.opened, clean.resolved) == (ScanState.DONE, 0, 0)
    assert _unresolved() == flags


@contextmanager
def _uncommitted(sql: str, params: list):
    """Run `sql` in a transaction of the test's own, left open while the block runs and then
    rolled back: a row the worker is about to insert waits on its unique index till then."""
    blocker = connect_pg()
    try:
        with blocker.cursor() as cursor:
            cursor.execute(sql, params)
        yield
    finally:
        blocker.rollback()
        blocker.close()


def _flag_row_locked(project):
    """Insert, uncommitted, the project's BLOCKED_RULE flag that the next scan will insert; the
    scan's INSERT waits on the one-unresolved-flag unique index until the block ends."""
    return _uncommitted(
        "INSERT INTO alignment_flag (rule, severity, subject_type, subject_id, "
        "subject_label, message, state, first_seen, last_seen, waiver_reason, project_id) "
        "VALUES (%s, 'critical', 'project', %s, 'parked', 'parked', 'open', now(), now(), "
        "'', %s)",
        [BLOCKED_RULE, project.pk, project.pk],
    )


def _parked_backend() -> int | None:
    """The worker's database backend, waiting on our uncommitted flag inside its scan."""
    return backend_waiting("INSERT INTO %alignment_flag%")


def _finished(scan: Scan) -> Scan | None:
    scan.refresh_from_db()
    return scan if scan.state in (ScanState.DONE, ScanState.FAILED) else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OwnRedis:
    """A Redis server for one test, restartable; it keeps nothing on disk, like the shared one,
    so a restart loses every message in it."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        arguments = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        self.process = subprocess.Popen(
            [binary, *arguments, "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_connect_timeout=1).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.1)
        pytest.fail(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def send(self, task: str, **options) -> None:
        with celery_app.connection_for_write(self.url) as broker:
            celery_app.send_task(task, connection=broker, **options)


@pytest.fixture
def own_redis():
    require_services()
    server = OwnRedis()
    yield server
    server.stop()


@pytest.fixture
def workers():
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


def _start(workers, path, *args, env=None, purge=True) -> Worker:
    worker = Worker(path, *args, env={**FAST, **(env or {})}, purge=purge)
    workers.append(worker)
    worker.wait_ready()
    return worker


def _send_scan(scan: Scan, broker: OwnRedis | None = None) -> None:
    if broker:
        broker.send("alignment.tasks.run_full_scan", args=[scan.pk])
    else:
        celery_app.send_task("alignment.tasks.run_full_scan", args=[scan.pk])


def test_a_worker_killed_mid_scan_leaves_nothing_half_written_and_the_redelivered_scan_finishes(
    tmp_path, workers
):
    require_services()
    parked_on, before = _portfolio()
    scan = Scan.objects.create(kind=ScanKind.FULL)
    with _flag_row_locked(parked_on):
        first = _start(workers, tmp_path / "first.log")
        _send_scan(scan)
        backend = wait_for(_parked_backend, timeout=TIME_LIMIT, worker=first, what="mid-scan")
        first.kill()
    wait_for(lambda: backend_gone(backend), timeout=20, what="the dead worker's transaction")
    scan.refresh_from_db()
    assert (scan.state, scan.attempts) == (ScanState.RUNNING, 1)
    assert _unresolved() == before  # everything the scan wrote was rolled back

    # The broker hands the unacknowledged message out again after its visibility timeout.
    restarted = _start(workers, tmp_path / "restarted.log", purge=False)
    wait_for(
        lambda: _finished(scan),
        timeout=VISIBILITY_TIMEOUT + 15,
        worker=restarted,
        what="the redelivered scan",
    )
    assert (scan.state, scan.attempts, scan.error) == (ScanState.DONE, 2, "")
    assert _unresolved() != before
    _clean_scan_agrees()


def test_a_scan_whose_database_connection_is_cut_retries_and_finishes(tmp_path, workers):
    require_services()
    parked_on, _ = _portfolio()
    scan = Scan.objects.create(kind=ScanKind.FULL)
    worker = _start(workers, tmp_path / "worker.log")
    with _flag_row_locked(parked_on):
        _send_scan(scan)
        backend = wait_for(_parked_backend, timeout=TIME_LIMIT, worker=worker, what="mid-scan")
        with connect_pg() as admin, admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
    wait_for(lambda: _finished(scan), timeout=30, worker=worker, what="the retried scan")
    assert (scan.state, scan.attempts, scan.error) == (ScanState.DONE, 2, "")
    assert "Retry in" in worker.output()
    _clean_scan_agrees()


def test_a_broker_restart_mid_scan_does_not_stop_the_scan_or_the_worker(
    tmp_path, workers, own_redis
):
    parked_on, _ = _portfolio()
    scan = Scan.objects.create(kind=ScanKind.FULL)
    worker = _start(workers, tmp_path / "worker.log", env={"CELERY_BROKER_URL": own_redis.url})
    with _flag_row_locked(parked_on):
        _send_scan(scan, own_redis)
        wait_for(_parked_backend, timeout=TIME_LIMIT, worker=worker, what="mid-scan")
        own_redis.restart()  # every connection dropped, every message in it lost
    wait_for(lambda: _finished(scan), timeout=30, worker=worker, what="the scan")
    assert (scan.state, scan.attempts, scan.error) == (ScanState.DONE, 1, "")
    _clean_scan_agrees()
    # The worker reconnected: the next scan runs.
    after = Scan.objects.create(kind=ScanKind.FULL)
    _send_scan(after, own_redis)
    wait_for(lambda: _finished(after), timeout=45, worker=worker, what="a scan after the restart")
    assert after.state == ScanState.DONE


def test_scans_whose_messages_the_broker_lost_are_ended_by_the_sweep_with_the_reason(
    tmp_path, workers, own_redis, settings
):
    # The same times as the worker's, for the messages the sweep writes.
    settings.ALIGNMENT_SCAN_STALE_SECONDS = STALE_AFTER
    settings.ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS = 4
    parked_on, before = _portfolio()
    on_broker = {"CELERY_BROKER_URL": own_redis.url}
    running = Scan.objects.create(kind=ScanKind.FULL)
    with _flag_row_locked(parked_on):
        first = _start(workers, tmp_path / "first.log", env=on_broker)
        _send_scan(running, own_redis)
        wait_for(_parked_backend, timeout=TIME_LIMIT, worker=first, what="mid-scan")
        first.kill()
    queued = Scan.objects.create(kind=ScanKind.FULL)
    _send_scan(queued, own_redis)  # no worker is running to take it
    own_redis.restart()  # both messages are lost with it

    sweeping = _start(
        workers,
        tmp_path / "sweeping.log",
        "--beat",
        "--schedule",
        str(tmp_path / "beat-schedule"),
        env={
            **on_broker,
            "ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS": "4",
            "ALIGNMENT_SCAN_SWEEP_SECONDS": "1",
        },
        purge=False,
    )
    wait_for(
        lambda: _finished(running) and _finished(queued),
        timeout=STALE_AFTER + 20,
        worker=sweeping,
        what="the sweep",
    )
    assert (queued.state, queued.error) == (ScanState.FAILED, engine.stale_queued_message())
    assert "message was lost" in queued.error
    assert (running.state, running.error) == (ScanState.FAILED, engine.stale_running_message())
    assert f"within {STALE_AFTER} seconds" in running.error
    assert _unresolved() == before  # the killed scan wrote nothing
    assert "alignment.tasks.sweep_stale_scans" in sweeping.output()
    # The next scan brings the flags up to date.
    again = Scan.objects.create(kind=ScanKind.FULL)
    _send_scan(again, own_redis)
    wait_for(lambda: _finished(again), timeout=30, worker=sweeping, what="the next scan")
    assert again.state == ScanState.DONE and again.opened > 0
    _clean_scan_agrees()


def _snapshot_row_locked(scan: Scan):
    """Insert, uncommitted, the scan's snapshot; the worker's own INSERT of it, once the scan's
    flags have committed, waits on the one-snapshot-per-scan unique index until the block ends."""
    return _uncommitted(
        "INSERT INTO alignment_snapshot (scan_id, taken_at, projects_total, "
        "projects_traced, features_total, features_traced, budget_total, budget_traced, "
        "open_by_rule, open_by_severity, figures) "
        "VALUES (%s, now(), 0, 0, 0, 0, 0, 0, '{}', '{}', '{}')",
        [scan.pk],
    )


@pytest.mark.parametrize("fault", ["worker killed", "connection cut"])
def test_a_fault_while_a_scan_takes_its_snapshot_keeps_the_flags_and_the_sweep_takes_it(
    tmp_path, workers, fault
):
    """The snapshot is taken after the scan's flags commit: a worker killed, or its database
    connection cut, while it is taken loses no flag and leaves the scan `done`; the sweep then
    takes the newest full scan's snapshot."""
    require_services()
    _parked_on, before = _portfolio()
    scan = Scan.objects.create(kind=ScanKind.FULL)
    worker = _start(workers, tmp_path / "worker.log")
    with _snapshot_row_locked(scan):
        _send_scan(scan)
        backend = wait_for(
            lambda: backend_waiting("INSERT INTO %alignment_snapshot%"),
            timeout=TIME_LIMIT,
            worker=worker,
            what="the snapshot",
        )
        if fault == "worker killed":
            worker.kill()
        else:
            with connect_pg() as admin, admin.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
            wait_for(
                lambda: "snapshot was not taken" in worker.output(),
                timeout=20,
                worker=worker,
                what="the worker to give the snapshot up",
            )
    wait_for(lambda: backend_gone(backend), timeout=20, what="the snapshot's transaction")
    scan.refresh_from_db()
    assert (scan.state, scan.error) == (ScanState.DONE, "")
    after = _unresolved()
    assert after != before  # the scan's flags were kept
    assert not Snapshot.objects.filter(scan=scan).exists()

    sweeping = _start(
        workers,
        tmp_path / "sweeping.log",
        "--beat",
        "--schedule",
        str(tmp_path / "beat-schedule"),
        env={"ALIGNMENT_SCAN_SWEEP_SECONDS": "1"},
    )
    wait_for(
        lambda: Snapshot.objects.filter(scan=scan).first(),
        timeout=30,
        worker=sweeping,
        what="the sweep's snapshot",
    )
    snapshot = Snapshot.objects.get(scan=scan)
    live = portfolio_figures()
    assert (snapshot.projects_total, snapshot.projects_traced) == (
        live["projects_total"],
        live["projects_traced"],
    )
    assert snapshot.projects_total == 5 and snapshot.open_by_rule["project.no_sponsor"] == 2
    assert "alignment.tasks.take_snapshot" in sweeping.output()
    assert _unresolved() == after
    _clean_scan_agrees()
