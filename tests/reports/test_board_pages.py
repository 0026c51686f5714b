"""The board report's pages: the dashboard's button, the PDF (at once, or a job's page that
polls), who may, the monthly mail's opt-in and the mail's one-click unsubscribe link."""

import pytest
from django.urls import reverse

from reports import mail
from reports.models import BoardPackSubscription, ReportJob
from tests.factories import GoalFactory, ProjectFactory, UserFactory
from tests.faults.test_backing_services_down import broker_down  # noqa: F401  (a fixture)

from .conftest import pdf_text

pytestmark = pytest.mark.django_db


def _signed_in(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("role", "shown"),
    [("executive", True), ("sponsor", True), ("project_manager", False), ("viewer", False)],
)
def test_the_dashboard_offers_the_board_report_to_executives_and_sponsors(client, role, shown):
    user = UserFactory(username=f"u-{role}", roles=[role])

    page = _signed_in(client, user).get(reverse("alignment:dashboard")).content.decode()

    assert ("data-board-report" in page) is shown
    assert (reverse("reports:board_pdf") in page) is shown


def test_the_button_downloads_the_pdf_for_a_small_portfolio(client, sponsor):
    GoalFactory(title="Retain the top accounts")

    response = _signed_in(client, sponsor).get(reverse("reports:board_pdf"))

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "Retain the top accounts" in pdf_text(response.content)


@pytest.mark.parametrize(
    ("role", "status"), [("project_manager", 403), ("viewer", 403), (None, 404)]
)
def test_others_are_refused_like_on_the_other_pages(client, role, status):
    user = UserFactory(username="someone", roles=[role] if role else [])

    response = _signed_in(client, user).get(reverse("reports:board_pdf"))

    assert response.status_code == status
    assert not ReportJob.objects.exists()


def test_a_large_portfolio_leads_to_the_jobs_page_then_the_pdf(
    client, executive, settings, django_capture_on_commit_callbacks
):
    settings.REPORTS_BOARD_PACK_SYNC_MAX_PROJECTS = 0
    ProjectFactory(title="Partner portal")
    _signed_in(client, executive)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(reverse("reports:board_pdf"))

    job = ReportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:job", kwargs={"pk": job.pk})
    page = client.get(response["Location"]).content.decode()
    assert "Your board pack is ready" in page
    download = client.get(reverse("reports:job_pdf", kwargs={"pk": job.pk}))
    assert download.status_code == 200 and download.content.startswith(b"%PDF")
    # Listed on the board-report page among the person's packs.
    board = client.get(reverse("reports:board")).content.decode()
    assert reverse("reports:job", kwargs={"pk": job.pk}) in board


def test_a_running_jobs_page_polls_its_status(client, executive):
    job = ReportJob.objects.create(
        created_by=executive, state="running", progress_total=6, progress_done=2
    )
    _signed_in(client, executive)

    page = client.get(reverse("reports:job", kwargs={"pk": job.pk})).content.decode()
    fragment = client.get(reverse("reports:job_status", kwargs={"pk": job.pk}))

    assert reverse("reports:job_status", kwargs={"pk": job.pk}) in page
    assert "2 of 6 sections" in fragment.content.decode()
    job.state = "failed"
    job.failure = "Stopped: its worker was lost."
    job.save()
    ended = client.get(reverse("reports:job_status", kwargs={"pk": job.pk}), HTTP_HX_REQUEST="true")
    assert ended.status_code == 204 and ended["HX-Refresh"] == "true"
    assert (
        "Stopped: its worker was lost."
        in client.get(reverse("reports:job", kwargs={"pk": job.pk})).content.decode()
    )


def test_the_opt_in_is_the_persons_own_choice_on_the_page(client, sponsor):
    _signed_in(client, sponsor)

    response = client.post(reverse("reports:monthly"), {"monthly": "on"})

    assert response.status_code == 302
    assert BoardPackSubscription.objects.get(user=sponsor).monthly is True
    assert "checked" in client.get(reverse("reports:board")).content.decode()
    client.post(reverse("reports:monthly"), {})
    assert BoardPackSubscription.objects.get(user=sponsor).monthly is False


def test_the_opt_in_is_recorded_in_history(client, sponsor):
    from django.apps import apps
    from django.conf import settings

    entries = apps.get_model(settings.AUDITLOG_LOGENTRY_MODEL).objects
    _signed_in(client, sponsor).post(reverse("reports:monthly"), {"monthly": "on"})

    subscription = BoardPackSubscription.objects.get(user=sponsor)
    assert entries.filter(
        content_type__model="boardpacksubscription", object_pk=str(subscription.pk), actor=sponsor
    ).exists()


def test_a_project_manager_cannot_opt_in(client, pm):
    response = _signed_in(client, pm).post(reverse("reports:monthly"), {"monthly": "on"})

    assert response.status_code == 403
    assert not BoardPackSubscription.objects.exists()


def test_the_unsubscribe_link_works_in_one_click_without_signing_in(client, sponsor):
    BoardPackSubscription.objects.create(user=sponsor, monthly=True)

    response = client.get(mail.unsubscribe_url(sponsor).split("localhost:8000", 1)[1])

    assert response.status_code == 200 and "Unsubscribed" in response.content.decode()
    assert BoardPackSubscription.objects.get(user=sponsor).monthly is False


def test_a_forged_unsubscribe_link_changes_nothing(client, sponsor):
    BoardPackSubscription.objects.create(user=sponsor, monthly=True)
    token = mail.unsubscribe_token(sponsor)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")

    response = client.post(reverse("reports:unsubscribe", kwargs={"token": forged}))

    assert response.status_code == 400
    assert BoardPackSubscription.objects.get(user=sponsor).monthly is True


@pytest.mark.django_db(transaction=True)
def test_the_button_while_the_task_queue_is_down_shows_the_job_failed(
    client,
    broker_down,  # noqa: F811
    settings,
):
    settings.REPORTS_BOARD_PACK_SYNC_MAX_PROJECTS = 0
    ProjectFactory(title="Partner portal")
    executive = UserFactory(username="boss", roles=["executive"])

    response = _signed_in(client, executive).get(reverse("reports:board_pdf"), follow=True)

    assert response.status_code == 200
    page = response.content.decode()
    assert "The board pack could not be made" in page
    assert "task queue" in page
