"""An import job run by the task (in-process here, as in the zero-setup mode): a check reports
and writes nothing, an import applies all of it and scans, and every way a job can go wrong
ends it `failed` with a plain message and nothing written — an unexpected error, a refusal, a
lost message or worker (the sweep), a task queue that does not answer."""

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from alignment.models import Flag, Scan
from onboarding import jobs, tasks
from onboarding.models import ImportJob, JobState
from tests.factories import UserFactory
from tests.tokens import token_for

from .conftest import SMALL, build_workbook, table_counts
from .uploads import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    UserFactory(username="pm", roles=["project_manager"])
    UserFactory(username="sponsor", roles=["sponsor"])
    return UserFactory(username="importer", roles=["executive"])


def _start(user, content, *, dry_run, capture, name="portfolio.xlsx"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    with capture(execute=True):
        response = client.post(
            "/api/portfolio/import/",
            {"file": upload(name, content), "dry_run": "true" if dry_run else "false"},
            format="multipart",
        )
    assert response.status_code == 202, response.data
    body = client.get(reverse("api:portfolio-import-detail", kwargs={"pk": response.data["id"]}))
    return ImportJob.objects.get(pk=response.data["id"]), body.json()


def test_a_check_reports_what_would_change_and_writes_nothing(
    people, django_capture_on_commit_callbacks
):
    before = table_counts()

    job, body = _start(
        people, build_workbook(SMALL), dry_run=True, capture=django_capture_on_commit_callbacks
    )

    assert body["state"] == "done" and body["errors"] == []
    assert body["created"]["Projects"] == 1 and body["created"]["Goals"] == 1
    assert body["progress"]["done"] == body["progress"]["total"] > 0
    assert job.applied is False and job.started_at and job.finished_at
    after = table_counts()
    after.pop("onboarding.ImportJob")
    before.pop("onboarding.ImportJob")
    assert after == before


def test_an_import_applies_the_file_and_runs_one_scan(people, django_capture_on_commit_callbacks):
    job, body = _start(
        people, build_workbook(SMALL), dry_run=False, capture=django_capture_on_commit_callbacks
    )

    assert body["state"] == "done" and body["errors"] == []
    assert job.applied and job.scan_id == Scan.objects.get().pk
    assert Flag.objects.exists()  # the scan ran over what was imported
    assert body["scan"] == job.scan_id


def test_a_file_with_problems_reports_each_with_sheet_row_and_column(
    people, django_capture_on_commit_callbacks
):
    broken = {
        **SMALL,
        "Projects": [{**SMALL["Projects"][0], "Status": "ongoing", "Budget people": -5}],
    }
    before = table_counts()

    job, body = _start(
        people, build_workbook(broken), dry_run=False, capture=django_capture_on_commit_callbacks
    )

    assert body["state"] == "done" and not job.applied
    assert body["errors_total"] == len(body["errors"]) >= 2
    places = {(e["sheet"], e["row"], e["column"]) for e in body["errors"]}
    assert ("Projects", 2, "Status") in places
    assert ("Projects", 2, "Budget people") in places
    after = table_counts()
    assert {k: v for k, v in after.items() if k != "onboarding.ImportJob"} == {
        k: v for k, v in before.items() if k != "onboarding.ImportJob"
    }


def test_a_file_that_only_looks_like_a_workbook_is_reported_not_a_server_error(
    people, django_capture_on_commit_callbacks
):
    """Past the upload's quick check (a zip with a workbook entry), the importer's report."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<not really/>")

    _, body = _start(
        people, buffer.getvalue(), dry_run=True, capture=django_capture_on_commit_callbacks
    )

    assert body["state"] == "done"
    assert body["errors"] and body["errors"][0]["message"]


def test_an_unexpected_error_fails_the_job_with_a_plain_message_and_writes_nothing(
    people, monkeypatch, django_capture_on_commit_callbacks
):
    """Fault injection: the importer breaks half-way through its writes (in its transaction,
    as the real one writes)."""
    from onboarding import importer

    def breaks_after_writing(*args, **kwargs):
        from goals.models import BusinessGoal

        BusinessGoal.objects.create(title="Half written", owner=people)
        raise RuntimeError("internal detail: /srv/app/secret.py line 12")

    def transactional(*args, **kwargs):
        from django.db import transaction

        with transaction.atomic():
            return breaks_after_writing(*args, **kwargs)

    monkeypatch.setattr(importer, "import_workbook", transactional)
    before = table_counts()

    job, body = _start(
        people, build_workbook(SMALL), dry_run=False, capture=django_capture_on_commit_callbacks
    )

    assert body["state"] == "failed"
    assert body["failure"] == jobs.UNEXPECTED_FAILURE.format(pk=job.pk)
    assert "secret" not in str(body) and "Traceback" not in str(body)
    after = table_counts()
    assert after["goals.BusinessGoal"] == before["goals.BusinessGoal"]


def test_someone_who_lost_the_right_to_import_meanwhile_is_refused_when_it_runs(
    people, django_capture_on_commit_callbacks
):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(people)}")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(
            "/api/portfolio/import/",
            {"file": upload("p.xlsx", build_workbook(SMALL))},
            format="multipart",
        )
    people.groups.clear()
    people.refresh_from_db()

    for callback in queued:
        callback()

    job = ImportJob.objects.get(pk=response.data["id"])
    assert job.state == JobState.FAILED
    assert job.failure.startswith("Refused: ") and "Nothing was written" in job.failure


# --- The worker's bookkeeping


def _job(user, **fields):
    values = {"created_by": user, "filename": "p.xlsx", "content": b"PK", "size": 2}
    return ImportJob.objects.create(**(values | fields))


def test_a_finished_job_is_not_run_again_by_a_late_message(people):
    job = _job(people, state=JobState.DONE, errors_total=0)

    assert jobs.claim(job.pk, task_id="late") is None
    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.DONE, 0)


def test_a_job_started_too_many_times_gives_up_and_says_why(people, settings):
    settings.ALIGNMENT_SCAN_MAX_ATTEMPTS = 2
    job = _job(people, state=JobState.RUNNING, attempts=2)

    assert jobs.claim(job.pk) is None
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.failure.startswith("Gave up after 2 attempts")


def test_the_sweep_ends_jobs_whose_worker_or_message_was_lost(people, settings):
    now = timezone.now()
    stale_running = _job(
        people,
        state=JobState.RUNNING,
        started_at=now - timezone.timedelta(seconds=settings.ALIGNMENT_SCAN_STALE_SECONDS + 1),
    )
    fresh_running = _job(people, state=JobState.RUNNING, started_at=now)
    stale_queued = _job(people)
    ImportJob.objects.filter(pk=stale_queued.pk).update(
        created_at=now
        - timezone.timedelta(seconds=settings.ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS + 1)
    )
    fresh_queued = _job(people)
    done = _job(people, state=JobState.DONE, started_at=now - timezone.timedelta(days=3))

    assert tasks.sweep_stale_imports() == 2

    states = dict(ImportJob.objects.values_list("pk", "state"))
    assert states[stale_running.pk] == states[stale_queued.pk] == JobState.FAILED
    assert states[fresh_running.pk] == JobState.RUNNING
    assert states[fresh_queued.pk] == JobState.QUEUED
    assert states[done.pk] == JobState.DONE
    stale_running.refresh_from_db()
    assert stale_running.failure == jobs.stale_running_message()
    assert "upload it again" in stale_running.failure


def test_the_sweep_runs_on_beat():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["onboarding-sweep-stale-imports"]
    assert entry["task"] == tasks.sweep_stale_imports.name


class _Recorded(jobs.ProgressRecorder):
    def write(self, done, total):
        self.written = [*getattr(self, "written", []), (done, total)]


def test_progress_is_written_every_half_second_or_1_percent_not_per_row():
    now = [0.0]
    recorder = _Recorded(job_id=1, clock=lambda: now[0])

    for done in range(0, 10_001):
        now[0] = done * 0.0005  # a row every half millisecond: 5 s in all
        recorder(done, 10_000)

    assert recorder.written[0] == (0, 10_000)
    assert recorder.written[-1] == (10_000, 10_000)
    assert 100 <= len(recorder.written) <= 112  # each 1%, and every 0.5 s at most
    steps = [b[0] - a[0] for a, b in zip(recorder.written, recorder.written[1:], strict=False)]
    assert max(steps) <= 100


def test_a_slow_small_file_shows_every_row():
    """Each row of a 7-row file is more than 1%: each is written, so a pause shows where."""
    recorder = _Recorded(job_id=1, clock=lambda: 0.0)

    for done in range(8):
        recorder(done, 7)

    assert [done for done, _ in recorder.written] == list(range(8))


def test_progress_outside_a_transaction_is_written_on_the_job(people):
    job = _job(people, state=JobState.RUNNING)
    recorder = jobs.ProgressRecorder(job_id=job.pk)
    from django.db import connection

    # pytest-django wraps the test in a transaction; the recorder's own rule is what matters.
    in_block = connection.in_atomic_block
    connection.in_atomic_block = False
    try:
        recorder.write(30, 120)
    finally:
        connection.in_atomic_block = in_block
    job.refresh_from_db()
    assert (job.progress_done, job.progress_total) == (30, 120)


# --- A task queue that does not answer


@pytest.fixture
def broker_down(monkeypatch):
    from crm_alignment.celery import app as celery_app
    from tests.faults.test_backing_services_down import CLOSED_PORT, _forget_broker_connections

    monkeypatch.setenv("CELERY_BROKER_URL", CLOSED_PORT)
    conf = celery_app.conf
    old = (conf.task_always_eager, conf.broker_url, conf.broker_transport_options)
    conf.task_always_eager = False
    conf.broker_url = CLOSED_PORT
    conf.broker_transport_options = {"socket_connect_timeout": 1, "socket_timeout": 1}
    _forget_broker_connections()
    yield
    conf.task_always_eager, conf.broker_url, conf.broker_transport_options = old
    _forget_broker_connections()


@pytest.mark.django_db(transaction=True)
def test_an_upload_while_the_task_queue_is_down_answers_503_and_records_the_job_failed(
    people, broker_down
):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(people)}")

    response = client.post(
        "/api/portfolio/import/",
        {"file": upload("p.xlsx", build_workbook(SMALL)), "dry_run": "true"},
        format="multipart",
    )

    assert response.status_code == 503
    assert response["Retry-After"]
    assert "task queue is unreachable" in response.json()["detail"]
    job = ImportJob.objects.get()
    assert job.state == JobState.FAILED and "did not accept it" in job.failure


@pytest.mark.django_db(transaction=True)
def test_the_import_page_while_the_task_queue_is_down_shows_the_job_failed(
    people, broker_down, client
):
    client.force_login(people)

    response = client.post(
        "/import/",
        {"file": upload("p.xlsx", build_workbook(SMALL)), "action": "check"},
        follow=True,
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "task queue is unreachable" in page
    assert "The job failed" in page
