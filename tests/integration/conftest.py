"""A real Celery worker (subprocess, solo pool) on Redis against the PostgreSQL test database.

The worker is started per test module and stopped by its pid. Tests here are transactional
(`transaction=True`) so that the worker, on its own connection, sees what they commit.
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from crm_alignment.celery import app as celery_app
from tests.conftest import require_or_skip

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")


def _redis_reachable(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except Exception:
        return False


def _database_url() -> str:
    db = connection.settings_dict
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


def require_services() -> None:
    require_or_skip(connection.vendor == "postgresql", "the worker tests need PostgreSQL")
    broker = settings.CELERY_BROKER_URL
    require_or_skip(broker.startswith("redis://"), "the worker tests need a Redis broker")
    require_or_skip(_redis_reachable(broker), f"Redis is not reachable at {broker}")


class Worker:
    """A `celery worker` subprocess; `stop()` ends it (and only it) by its pid."""

    def __init__(
        self, log_path: Path, *extra_args: str, env: dict | None = None, purge: bool = True
    ) -> None:
        self.log_path = log_path
        worker_env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CRM_VAR_DIR": str(log_path.parent),
            "DJANGO_DEBUG": "1",
            "CELERY_TASK_DEFAULT_QUEUE": celery_app.conf.task_default_queue,
            **(env or {}),
        }
        self.log = open(log_path, "w")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "crm_alignment",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                # A restarted worker must find the messages its predecessor left behind.
                *(["--purge"] if purge else []),
                *extra_args,
            ],
            cwd=ROOT,
            env=worker_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.output():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"The Celery worker did not start:\n{self.output()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, nothing handed back to the broker."""
        self.process.kill()
        self.process.wait(timeout=10)
        self.log.close()

    def stop(self) -> None:
        if self.log.closed:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


def wait_for(predicate, timeout: float = 45, worker: Worker | None = None, what: str = ""):
    """Poll until predicate() is truthy; fail with the worker's log if it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    log = worker.output()[-4000:] if worker else ""
    pytest.fail(f"Timed out waiting for {what}.\nWorker log:\n{log}")


def connect_pg():
    """A connection of its own to the test database (psycopg), outside Django's: to hold a lock
    the worker must wait on, or to watch the worker's backend."""
    import psycopg

    return psycopg.connect(_database_url().replace("postgres://", "postgresql://", 1))


def backend_waiting(query_like: str) -> int | None:
    """The pid of the backend of this database waiting on a lock while running a query that
    matches the ILIKE pattern `query_like`: the worker, parked where the test holds it."""
    with connect_pg() as monitor, monitor.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
            "AND query ILIKE %s",
            [connection.settings_dict["NAME"], query_like],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def backend_gone(pid: int) -> bool:
    with connect_pg() as monitor, monitor.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is None


def _forget_routing() -> None:
    # Celery caches the queues and router on first use; drop them so the new name applies.
    for name in ("queues", "default_queue", "router"):
        celery_app.amqp.__dict__.pop(name, None)


@pytest.fixture(autouse=True)
def own_queue():
    """A queue of our own, so parallel test processes (xdist) sharing the broker never take
    each other's tasks, which would run against the other process's test database."""
    old = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = f"alignment-test-{uuid.uuid4().hex[:12]}"
    _forget_routing()
    yield celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = old
    _forget_routing()
