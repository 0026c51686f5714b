"""Import jobs on a real Celery worker (PostgreSQL + Redis): the job runs and reports; and when
its worker is killed, its database connection cut or the broker restarted mid-way, the job never
stays queued or running — it is redelivered and finishes, or ends with a reason — and nothing is
half written.

"Mid-import" is made exact, as for the scans (tests/integration/test_scan_faults.py): the test
holds a row lock on a goal the workbook updates, so the import waits inside its transaction,
having written the rows before that one, until the test lets go."""

import datetime
import time
from contextlib import contextmanager

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from goals.models import BusinessGoal, Priority
from onboarding import jobs
from onboarding.models import ImportJob, JobState
from projects.models import CRMProject
from tests.factories import UserFactory
from tests.integration.conftest import (
    Worker,
    backend_gone,
    backend_waiting,
    connect_pg,
    own_queue,  # noqa: F401  (autouse: a queue of this test's own)
    require_services,
    wait_for,
)
from tests.integration.test_scan_faults import FAST, OwnRedis
from tests.tokens import token_for

from .conftest import SMALL, build_workbook, table_counts
from .uploads import upload

pytestmark = [
    pytest.mark.services,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _no_live_rechecks(monkeypatch):
    """The test's own edits would queue re-checks on the worker; keep them out of the way."""
    from alignment import receivers

    monkeypatch.setattr(receivers, "queue_full_recheck", lambda: None)
    monkeypatch.setattr(receivers, "queue_project_recheck", lambda ids, left=None: None)


@pytest.fixture
def importer():
    require_services()
    UserFactory(username="pm", roles=["project_manager"])
    UserFactory(username="sponsor", roles=["sponsor"])
    user = UserFactory(username="importer", roles=["executive"])
    # The workbook raises its priority: an update, which locks the row.
    BusinessGoal.objects.create(title="Grow revenue", owner=user, priority=Priority.LOW)
    return user


@pytest.fixture
def workers():
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


def _start_worker(workers, tmp_path, name="worker", *, purge=True, env=None) -> Worker:
    worker = Worker(tmp_path / f"{name}.log", env={**FAST, **(env or {})}, purge=purge)
    workers.append(worker)
    worker.wait_ready()
    return worker


def _upload(user, *, dry_run=False) -> ImportJob:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    response = client.post(
        "/api/portfolio/import/",
        {"file": upload("portfolio.xlsx", build_workbook(SMALL)), "dry_run": str(dry_run).lower()},
        format="multipart",
    )
    assert response.status_code == 202, response.data
    return ImportJob.objects.get(pk=response.data["id"])


def _ended(job: ImportJob) -> ImportJob | None:
    job.refresh_from_db()
    return job if job.state in (JobState.DONE, JobState.FAILED) else None


@contextmanager
def _goal_locked():
    """Hold the goal's row lock: the import's update of it waits until the block ends."""
    blocker = connect_pg()
    try:
        with blocker.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM goals_businessgoal WHERE title = 'Grow revenue' FOR UPDATE"
            )
        yield
    finally:
        blocker.rollback()
        blocker.close()


def _waiting_backend() -> int | None:
    """The worker's database backend, waiting for our lock inside the import's transaction."""
    return backend_waiting("%goals_businessgoal%")


def _imported_nothing(before: dict[str, int]) -> None:
    after = table_counts()
    for counts in (before, after):
        counts.pop("onboarding.ImportJob", None)
    assert after == before
    assert BusinessGoal.objects.get().priority == Priority.LOW


def test_a_worker_runs_the_import_and_reports_progress_and_flags(importer, workers, tmp_path):
    worker = _start_worker(workers, tmp_path)

    job = _upload(importer)

    job = wait_for(lambda: _ended(job), timeout=60, worker=worker, what="the import to end")
    assert job.state == JobState.DONE, job.failure
    assert job.errors == [] and job.applied and job.scan_id
    assert job.progress_done == job.progress_total == job.total_rows > 0
    assert job.attempts == 1
    assert BusinessGoal.objects.get().priority == Priority.HIGH
    assert CRMProject.objects.filter(title="Partner portal").exists()


def test_a_worker_killed_mid_import_leaves_nothing_and_the_redelivered_job_finishes(
    importer, workers, tmp_path
):
    before = table_counts()
    first = _start_worker(workers, tmp_path, "first")

    with _goal_locked():
        job = _upload(importer)
        wait_for(_waiting_backend, worker=first, what="the import to wait inside its writes")
        job.refresh_from_db()
        assert job.state == JobState.RUNNING and job.progress_total > 0
        pid = _waiting_backend()
        first.kill()
    # Its backend notices the lost client once the lock is free, and rolls back.
    wait_for(lambda: backend_gone(pid), what="the killed worker's backend to end")
    _imported_nothing(before)
    job.refresh_from_db()
    assert job.state == JobState.RUNNING  # until someone takes it over or the sweep ends it

    # A new worker gets the message back once the broker's visibility timeout has passed.
    second = _start_worker(workers, tmp_path, "second", purge=False)
    job = wait_for(lambda: _ended(job), timeout=90, worker=second, what="the redelivered job")
    assert job.state == JobState.DONE, job.failure
    assert job.applied and job.attempts == 2
    assert BusinessGoal.objects.get().priority == Priority.HIGH
    assert CRMProject.objects.filter(title="Partner portal").count() == 1


def test_a_job_whose_worker_never_comes_back_is_ended_by_the_sweep(importer, workers, tmp_path):
    before = table_counts()
    worker = _start_worker(workers, tmp_path)

    with _goal_locked():
        job = _upload(importer)
        pid = wait_for(_waiting_backend, worker=worker, what="the import to wait inside its writes")
        worker.kill()
    wait_for(lambda: backend_gone(pid), what="the killed worker's backend to end")
    job.refresh_from_db()
    assert job.state == JobState.RUNNING

    # Beat runs the sweep every minute; here, as if the stale time had passed.
    later = job.started_at + datetime.timedelta(
        seconds=int(settings.ALIGNMENT_SCAN_STALE_SECONDS) + 1
    )
    assert jobs.sweep_stale_imports(now=later) == 1
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.failure == jobs.stale_running_message()
    _imported_nothing(before)


def test_a_cut_database_connection_mid_import_ends_the_job_and_writes_nothing(
    importer, workers, tmp_path
):
    before = table_counts()
    worker = _start_worker(workers, tmp_path)

    with _goal_locked():
        job = _upload(importer)
        pid = wait_for(_waiting_backend, worker=worker, what="the import to wait")
        with connect_pg() as admin, admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        job = wait_for(lambda: _ended(job), timeout=60, worker=worker, what="the job to end")
    # A report saying nothing was written, or a failure saying so: never stuck, never half.
    if job.state == JobState.DONE:
        assert not job.applied
        assert "Nothing was written" in job.errors[0]["message"]
    else:
        assert "Nothing of this file was written" in job.failure
    _imported_nothing(before)

    # Uploading the file again works: the worker has a new connection.
    again = _upload(importer)
    again = wait_for(lambda: _ended(again), timeout=60, worker=worker, what="the second upload")
    assert again.state == JobState.DONE and again.applied, again.failure


def test_a_job_whose_message_a_broker_restart_lost_is_ended_by_the_sweep_and_a_late_copy_ignored(
    importer, workers, tmp_path
):
    broker = OwnRedis()
    try:
        job = ImportJob.objects.create(
            created_by=importer,
            filename="portfolio.xlsx",
            content=build_workbook(SMALL),
            dry_run=True,
        )
        broker.send("onboarding.tasks.run_import", args=[job.pk])
        broker.restart()  # nothing on disk: the message is gone
        worker = _start_worker(
            workers, tmp_path, env={"CELERY_BROKER_URL": broker.url}, purge=False
        )
        time.sleep(3)
        job.refresh_from_db()
        assert job.state == JobState.QUEUED  # nobody will ever run it

        later = job.created_at + datetime.timedelta(
            seconds=int(settings.ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS) + 1
        )
        assert jobs.sweep_stale_imports(now=later) == 1
        job.refresh_from_db()
        assert job.state == JobState.FAILED and job.failure == jobs.stale_queued_message()

        # Should the message turn up after all, the failed job is not run.
        broker.send("onboarding.tasks.run_import", args=[job.pk])
        time.sleep(3)
        job.refresh_from_db()
        assert job.state == JobState.FAILED and job.attempts == 0
        assert "run_import" in worker.output()
    finally:
        broker.stop()


def test_progress_written_inside_the_import_is_seen_while_it_runs(importer):
    """The recorder's own connection commits at once, while the import's transaction is open."""
    from django.db import transaction

    job = ImportJob.objects.create(
        created_by=importer, filename="p.xlsx", content=b"PK", state=JobState.RUNNING
    )
    recorder = jobs.ProgressRecorder(job.pk)
    try:
        with transaction.atomic():
            recorder.write(600, 1000)
            with connect_pg() as other, other.cursor() as cursor:
                cursor.execute(
                    "SELECT progress_done, progress_total FROM onboarding_importjob WHERE id = %s",
                    [job.pk],
                )
                assert cursor.fetchone() == (600, 1000)
    finally:
        recorder.close()
