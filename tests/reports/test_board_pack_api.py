"""GET /api/reports/board.pdf: the PDF at once for a small portfolio; above the threshold a job
(202) a worker makes it in, followed at /api/reports/jobs/{id}/ and downloaded by its owner
only. A job that fails says why (no 500), and its owner hears of the end (JOB_FINISHED)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core import events
from reports import jobs, pack
from reports.models import JobState, ReportJob
from tests.factories import GoalFactory, KPIFactory, ProjectFactory, UserFactory
from tests.faults.test_backing_services_down import broker_down  # noqa: F401  (a fixture)
from tests.tokens import token_for

from .conftest import pdf_text

pytestmark = pytest.mark.django_db

URL = "/api/reports/board.pdf"


@pytest.fixture
def small_world(db):
    goal = GoalFactory(title="Grow revenue in the north")
    KPIFactory(goal=goal, name="Win rate")
    ProjectFactory(title="Partner portal", status="proposed")


def _client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


@pytest.fixture
def heard():
    """The events emitted (core.events), as the notifications app would receive them."""
    received = []

    def receiver(sender, events, **kwargs):
        received.extend(events)

    events.emitted.connect(receiver)
    yield received
    events.emitted.disconnect(receiver)


def test_a_small_portfolio_gets_the_pdf_at_once(small_world, executive):
    response = _client(executive).get(URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="board-pack-')
    text = pdf_text(response.content)
    assert "Grow revenue in the north" in text and "Partner portal" in text
    assert not ReportJob.objects.exists()


@pytest.mark.parametrize("role", ["project_manager", "viewer"])
def test_project_managers_and_viewers_are_refused(small_world, role):
    user = UserFactory(username=f"a-{role}", roles=[role])

    response = _client(user).get(URL)

    assert response.status_code == 403
    assert response.json()["detail"] == pack.BOARD_PACK_REFUSAL
    assert not ReportJob.objects.exists()


def test_a_large_portfolio_gets_a_job_its_owner_follows_and_downloads(
    small_world, executive, settings, django_capture_on_commit_callbacks, heard
):
    settings.REPORTS_BOARD_PACK_SYNC_MAX_PROJECTS = 0
    client = _client(executive)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(URL)

    assert response.status_code == 202
    job_id = response.json()["id"]
    assert response.json()["url"].endswith(f"/api/reports/jobs/{job_id}/")
    body = client.get(f"/api/reports/jobs/{job_id}/").json()
    assert body["state"] == "done" and body["failure"] == ""
    assert body["progress"] == {"done": len(pack.SECTIONS), "total": len(pack.SECTIONS)}
    assert body["scope"].startswith("Whole portfolio: 1 live project")
    download = client.get(body["pdf_url"])
    assert download.status_code == 200 and download.content.startswith(b"%PDF")
    assert "Grow revenue in the north" in pdf_text(download.content)
    finished = [e for e in heard if e.type == events.JOB_FINISHED]
    assert [(e.subject_id, e.recipients, e.data["state"]) for e in finished] == [
        (job_id, (executive.pk,), "done")
    ]


def test_nobody_else_sees_or_downloads_a_job_not_even_an_admin(
    small_world, executive, sponsor, admin_user, settings, django_capture_on_commit_callbacks
):
    settings.REPORTS_BOARD_PACK_SYNC_MAX_PROJECTS = 0
    with django_capture_on_commit_callbacks(execute=True):
        job_id = _client(executive).get(URL).json()["id"]

    for other in (sponsor, admin_user):
        assert _client(other).get(f"/api/reports/jobs/{job_id}/").status_code == 404
        assert _client(other).get(f"/api/reports/jobs/{job_id}/pdf/").status_code == 404


def test_a_rendering_error_fails_the_job_with_a_plain_message_not_a_500(
    small_world, executive, settings, monkeypatch, django_capture_on_commit_callbacks, heard
):
    import weasyprint

    def broken(self, *args, **kwargs):
        raise RuntimeError("cairo exploded")

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", broken)
    settings.REPORTS_BOARD_PACK_SYNC_MAX_PROJECTS = 0
    client = _client(executive)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(URL)

    assert response.status_code == 202
    job_id = response.json()["id"]
    body = client.get(f"/api/reports/jobs/{job_id}/").json()
    assert body["state"] == "failed" and body["pdf_url"] is None
    assert body["failure"] == jobs.UNEXPECTED_FAILURE.format(pk=job_id)
    assert "cairo" not in body["failure"]  # the traceback goes to the log, not to the user
    pdf = client.get(f"/api/reports/jobs/{job_id}/pdf/")
    assert pdf.status_code == 409 and "failed" in pdf.json()["detail"].lower()
    finished = [e for e in heard if e.type == events.JOB_FINISHED]
    assert [(e.recipients, e.data["state"]) for e in finished] == [((executive.pk,), "failed")]


def test_someone_who_lost_their_role_before_the_worker_ran_is_refused_by_the_job(
    small_world, settings, django_capture_on_commit_callbacks
):
    settings.REPORTS_BOARD_PACK_SYNC_MAX_PROJECTS = 0
    sponsor = UserFactory(username="leaving", roles=["sponsor"])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        job_id = _client(sponsor).get(URL).json()["id"]
    sponsor.groups.clear()  # the worker reads the owner (and their roles) afresh
    for callback in queued:
        callback()

    job = ReportJob.objects.get(pk=job_id)
    assert job.state == JobState.FAILED
    assert job.failure == f"Refused: {pack.BOARD_PACK_REFUSAL}"
    assert job.size == 0


def test_the_sweep_ends_jobs_whose_worker_or_message_was_lost(executive, settings, heard):
    now = timezone.now()
    long_ago = now - datetime.timedelta(seconds=settings.ALIGNMENT_SCAN_STALE_SECONDS + 60)
    running = ReportJob.objects.create(created_by=executive, state="running", started_at=long_ago)
    queued = ReportJob.objects.create(created_by=executive)
    ReportJob.objects.filter(pk=queued.pk).update(
        created_at=now
        - datetime.timedelta(seconds=settings.ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS + 5)
    )
    fresh = ReportJob.objects.create(created_by=executive)

    assert jobs.sweep_stale_report_jobs(now=now) == 2

    running.refresh_from_db()
    queued.refresh_from_db()
    fresh.refresh_from_db()
    assert running.state == queued.state == JobState.FAILED
    assert running.failure == jobs.stale_running_message()
    assert queued.failure == jobs.stale_queued_message()
    assert fresh.state == JobState.QUEUED
    assert {e.subject_id for e in heard if e.type == events.JOB_FINISHED} == {
        running.pk,
        queued.pk,
    }


def test_a_finished_job_is_not_run_again_by_a_late_message(executive):
    job = ReportJob.objects.create(created_by=executive, state="done", pdf=b"%PDF-1.7 x")

    assert jobs.claim(job.pk) is None
    job.refresh_from_db()
    assert job.state == JobState.DONE and bytes(job.pdf) == b"%PDF-1.7 x"


def test_the_sweep_and_the_monthly_mail_run_on_beat(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["reports-sweep-stale-jobs"]["task"] == "reports.tasks.sweep_stale_report_jobs"
    monthly = schedule["reports-monthly-board-pack"]
    assert monthly["task"] == "reports.tasks.mail_monthly_board_packs"
    assert monthly["schedule"].day_of_month == {1}


def test_the_job_api_is_in_the_schema(client):
    paths = client.get(reverse("api:schema"), HTTP_ACCEPT="application/json").json()["paths"]
    assert "/api/reports/board.pdf" in paths
    assert "202" in paths["/api/reports/board.pdf"]["get"]["responses"]
    assert "/api/reports/jobs/{id}/" in paths


@pytest.mark.django_db(transaction=True)
def test_a_job_the_task_queue_does_not_take_answers_503_and_is_recorded_failed(
    broker_down,  # noqa: F811
    settings,
):
    settings.REPORTS_BOARD_PACK_SYNC_MAX_PROJECTS = 0
    ProjectFactory(title="Partner portal")
    executive = UserFactory(username="boss", roles=["executive"])

    response = _client(executive).get(URL)

    assert response.status_code == 503
    assert "task queue" in response.json()["detail"]
    assert "Retry-After" in response
    job = ReportJob.objects.get()
    assert job.state == JobState.FAILED and "did not accept it" in job.failure
