"""The approval workflow over the API: approve, reject and send back with `{"comment"}`, the
manager's resubmit, and the thread at `GET /api/projects/{id}/decisions/`."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from projects.models import DecisionKind, ProjectDecision, ProjectStatus
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(name, project):
    return reverse(f"api:project-{name}", args=[project.pk])


@pytest.mark.parametrize("name", ["reject", "send-back"])
@pytest.mark.parametrize("body", [{}, {"comment": ""}, {"comment": "   "}, {"comment": None}])
def test_reject_and_send_back_without_a_comment_are_400_naming_it(api, sponsor, ready, name, body):
    response = api(sponsor).post(url(name, ready), body, format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["comment"]
    ready.refresh_from_db()
    assert ready.status == ProjectStatus.PROPOSED
    assert not ProjectDecision.objects.exists()


def test_a_comment_too_long_or_not_text_is_400_naming_it(api, sponsor, ready):
    long = api(sponsor).post(url("reject", ready), {"comment": "x" * 4001}, format="json")
    listed = api(sponsor).post(url("reject", ready), {"comment": ["no"]}, format="json")

    assert long.status_code == 400 and "comment" in long.json()
    assert listed.status_code == 400 and "comment" in listed.json()
    assert not ProjectDecision.objects.exists()


def test_reject_answers_the_cancelled_project_and_the_thread_keeps_why(api, sponsor, pm, ready):
    response = api(sponsor).post(url("reject", ready), {"comment": "Not now."}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response["ETag"] == f'"{response.json()["version"]}"'
    thread = api(pm).get(url("decisions", ready)).json()
    assert thread["count"] == 1
    [entry] = thread["results"]
    assert entry["kind"] == "rejected"
    assert entry["comment"] == "Not now."
    assert entry["author"] == sponsor.pk


def test_approve_takes_an_optional_comment(api, sponsor, ready):
    response = api(sponsor).post(url("approve", ready), {"comment": "Go."}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    assert list(ready.decisions.values_list("kind", "comment")) == [("approved", "Go.")]


def test_approve_without_a_body_still_works(api, sponsor, ready):
    response = api(sponsor).post(url("approve", ready))

    assert response.status_code == 200
    assert list(ready.decisions.values_list("kind", "comment")) == [("approved", "")]


def test_a_refused_approval_names_the_blocking_reasons(api, sponsor, pm):
    project = ProjectFactory(manager=pm, sponsor=sponsor)

    response = api(sponsor).post(url("approve", project), {"comment": "Yes."}, format="json")

    assert response.status_code == 400
    assert "Cannot approve until" in response.json()["status"][0]
    assert not ProjectDecision.objects.exists()


def test_send_back_then_resubmit_round_trip(api, sponsor, pm, ready):
    sent = api(sponsor).post(url("send-back", ready), {"comment": "Name the users."}, format="json")
    assert sent.status_code == 200 and sent.json()["status"] == "proposed"

    again = api(sponsor).post(url("send-back", ready), {"comment": "Again."}, format="json")
    assert again.status_code == 400 and "status" in again.json()

    resubmitted = api(pm).post(
        url("resubmit", ready),
        {"comment": "Sales reps EMEA."},
        format="json",
        HTTP_IF_MATCH=sent["ETag"],
    )
    assert resubmitted.status_code == 200, resubmitted.content
    kinds = [e["kind"] for e in api(sponsor).get(url("decisions", ready)).json()["results"]]
    assert kinds == ["sent_back", "resubmitted"]


@pytest.mark.parametrize("name", ["approve", "reject", "send-back"])
def test_a_decision_with_a_stale_if_match_is_412_and_changes_nothing(api, sponsor, pm, ready, name):
    stale = f'"{ready.version}"'
    api(pm).patch(
        reverse("api:project-detail", args=[ready.pk]), {"description": "Changed."}, format="json"
    )

    response = api(sponsor).post(
        url(name, ready), {"comment": "On what I saw."}, format="json", HTTP_IF_MATCH=stale
    )

    assert response.status_code == 412
    ready.refresh_from_db()
    assert ready.status == ProjectStatus.PROPOSED
    assert not ProjectDecision.objects.exists()


def test_a_decision_on_the_version_before_a_send_back_is_412(api, sponsor, executive, ready):
    seen = f'"{ready.version}"'
    api(sponsor).post(
        url("send-back", ready), {"comment": "Fix it."}, format="json", HTTP_IF_MATCH=seen
    )

    response = api(executive).post(url("approve", ready), {}, format="json", HTTP_IF_MATCH=seen)

    assert response.status_code == 412
    ready.refresh_from_db()
    assert ready.status == ProjectStatus.PROPOSED


def test_comments_are_added_and_read_in_order(api, sponsor, pm, viewer, ready):
    first = api(pm).post(url("decisions", ready), {"comment": "Ready?"}, format="json")
    second = api(sponsor).post(url("decisions", ready), {"comment": "Soon."}, format="json")
    refused = api(viewer).post(url("decisions", ready), {"comment": "Me too."}, format="json")
    blank = api(pm).post(url("decisions", ready), {"comment": " "}, format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["kind"] == "comment" and first.json()["author_name"]
    assert refused.status_code == 403
    assert blank.status_code == 400 and list(blank.json()) == ["comment"]
    comments = [e["comment"] for e in api(viewer).get(url("decisions", ready)).json()["results"]]
    assert comments == ["Ready?", "Soon."]


def test_the_thread_is_not_found_for_a_user_without_a_role(api, nobody, ready):
    assert api(nobody).get(url("decisions", ready)).status_code == 404
    assert api(nobody).post(url("decisions", ready), {"comment": "Hi"}).status_code == 404


def test_a_non_numeric_id_is_404_not_500(api, pm):
    assert api(pm).get("/api/projects/abc/decisions/").status_code == 404
    assert api(pm).post("/api/projects/%C2%B2/resubmit/").status_code == 404


def _thread_queries(api, user, project):
    client = api(user)
    client.get(url("decisions", project))
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url("decisions", project))
    assert response.status_code == 200
    return len(captured), response.json()["count"]


def test_reading_the_thread_costs_the_same_for_2_or_20_entries(api, viewer, ready):
    people = [UserFactory(roles=["executive"]) for _ in range(2)]
    for index in range(2):
        ProjectDecision.objects.create(
            project=ready, kind=DecisionKind.COMMENT, comment=f"{index}", author=people[index]
        )
    few, count = _thread_queries(api, viewer, ready)
    assert count == 2
    more = [UserFactory(roles=["executive"]) for _ in range(18)]
    for index, person in enumerate(more):
        ProjectDecision.objects.create(
            project=ready, kind=DecisionKind.COMMENT, comment=f"more {index}", author=person
        )
    many, count = _thread_queries(api, viewer, ready)
    assert count == 20
    assert many == few
