"""Acknowledging and waiving a flag: the inbox pages and the API load the flag through the same
access function (alignment.access.flag_for) and call the same services with its id, so the same
person gets the same answer on both, judged on the flag as stored when the click arrives."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alignment.models import Flag, FlagState
from alignment.services import flag_acknowledge, flag_waive
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def _flag(project, **fields):
    now = timezone.now()
    values = {
        "rule": "project.untraced",
        "severity": "critical",
        "subject_type": "project",
        "subject_id": project.pk,
        "subject_label": project.title,
        "project": project,
        "message": "Link the project to the CRM strategy it serves.",
        "first_seen": now,
        "last_seen": now,
    }
    return Flag.objects.create(**(values | fields))


def _in_a_month() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(days=30)


@pytest.fixture
def resolved_meanwhile(sponsor):
    """A flag the sponsor saw open in the inbox, resolved by a scan before their click."""
    flag = _flag(ProjectFactory(sponsor=sponsor))
    Flag.objects.filter(pk=flag.pk).update(state=FlagState.RESOLVED, resolved_at=timezone.now())
    return flag


def test_acknowledging_a_flag_resolved_meanwhile_gets_the_same_refusal_on_page_and_api(
    client, api, sponsor, resolved_meanwhile
):
    flag = resolved_meanwhile
    client.force_login(sponsor)

    page = client.post(reverse("alignment:flag_acknowledge", args=[flag.pk]), follow=True)
    response = api(sponsor).post(reverse("api:flag-acknowledge", args=[flag.pk]))

    refusal = "Only an open flag can be acknowledged; this one is Resolved."
    assert refusal in page.content.decode()
    assert response.status_code == 409 and response.json()["detail"] == refusal
    assert Flag.objects.get(pk=flag.pk).state == FlagState.RESOLVED


def test_waiving_a_flag_resolved_meanwhile_gets_the_same_refusal_on_page_and_api(
    client, api, sponsor, resolved_meanwhile
):
    flag = resolved_meanwhile
    client.force_login(sponsor)

    page = client.post(
        reverse("alignment:flag_waive", args=[flag.pk]),
        {"reason": "Pilot only", "expires_on": _in_a_month().date().isoformat()},
    )
    response = api(sponsor).post(
        reverse("api:flag-waive", args=[flag.pk]),
        {"reason": "Pilot only", "expires_at": _in_a_month().isoformat()},
        format="json",
    )

    refusal = "This flag is resolved; there is nothing to waive."
    assert page.status_code == 400 and refusal in page.content.decode()
    assert response.status_code == 409 and response.json()["detail"] == refusal
    flag.refresh_from_db()
    assert (flag.state, flag.waiver_reason) == (FlagState.RESOLVED, "")


def test_the_sponsor_of_another_project_is_refused_alike_on_page_and_api(client, api, sponsor):
    flag = _flag(ProjectFactory())  # someone else sponsors it
    client.force_login(sponsor)
    waiver = {"reason": "Not mine", "expires_at": _in_a_month().isoformat()}

    answers = {
        "page acknowledge": client.post(reverse("alignment:flag_acknowledge", args=[flag.pk])),
        "page waive form": client.get(reverse("alignment:flag_waive", args=[flag.pk])),
        "api acknowledge": api(sponsor).post(reverse("api:flag-acknowledge", args=[flag.pk])),
        "api waive": api(sponsor).post(
            reverse("api:flag-waive", args=[flag.pk]), waiver, format="json"
        ),
    }

    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 403)
    assert Flag.objects.get(pk=flag.pk).state == FlagState.OPEN


def test_a_refused_waiver_is_judged_on_who_may_before_what_was_sent(api, sponsor):
    flag = _flag(ProjectFactory())

    response = api(sponsor).post(reverse("api:flag-waive", args=[flag.pk]), {}, format="json")

    assert response.status_code == 403


def test_a_user_without_a_role_is_told_the_flag_does_not_exist_on_page_and_api(
    client, api, nobody, sponsor
):
    flag = _flag(ProjectFactory(sponsor=sponsor))
    client.force_login(nobody)

    assert client.post(reverse("alignment:flag_acknowledge", args=[flag.pk])).status_code == 404
    assert client.get(reverse("alignment:flag_waive", args=[flag.pk])).status_code == 404
    assert api(nobody).post(reverse("api:flag-acknowledge", args=[flag.pk])).status_code == 404
    assert api(nobody).post(reverse("api:flag-waive", args=[flag.pk])).status_code == 404


def test_an_api_action_on_a_flag_id_that_is_not_a_number_is_a_404(api, executive):
    assert api(executive).post("/api/flags/abc/acknowledge/").status_code == 404
    assert api(executive).post("/api/flags/abc/waive/").status_code == 404


@pytest.mark.postgres
def test_flag_decisions_lock_the_flag_row(sponsor):
    first = _flag(ProjectFactory(sponsor=sponsor))
    second = _flag(ProjectFactory(sponsor=sponsor), rule="project.no_roadmap")

    with CaptureQueriesContext(connection) as captured:
        flag_acknowledge(actor=sponsor, flag_id=first.pk)
        flag_waive(actor=sponsor, flag_id=second.pk, reason="Pilot", expires_at=_in_a_month())

    locked = [q["sql"] for q in captured if "FOR UPDATE" in q["sql"]]
    assert len(locked) == 2, locked
