"""POST /api/flags/bulk/: several flags acknowledged or waived at once, each decided like a
single one; the answer says per flag what happened. Bad input is 400 naming the field, and
decides nothing."""

import datetime

import pytest
from django.utils import timezone

from alignment.models import Flag, FlagState
from alignment.services import BULK_MAX
from tests.alignment.test_bulk_decisions import make_flag
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/flags/bulk/"


def in_a_month() -> str:
    return (timezone.now() + datetime.timedelta(days=30)).isoformat()


@pytest.fixture
def own_flags(sponsor):
    return [make_flag(ProjectFactory(sponsor=sponsor)) for _ in range(2)]


@pytest.fixture
def foreign_flag(db):
    return make_flag(ProjectFactory(sponsor=UserFactory(roles=["sponsor"])))


def test_a_sponsor_waives_two_flags_in_one_request(api, sponsor, own_flags):
    ids = [f.pk for f in own_flags]

    response = api(sponsor).post(
        URL,
        {"action": "waive", "ids": ids, "reason": "Pilot only", "expires_at": in_a_month()},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["action"], body["done"], body["refused"], body["not_found"]) == ("waive", 2, 0, 0)
    assert [(r["id"], r["status"], r["flag"]["state"]) for r in body["results"]] == [
        (ids[0], "done", "waived"),
        (ids[1], "done", "waived"),
    ]
    assert set(Flag.objects.filter(pk__in=ids).values_list("state", "waiver_reason")) == {
        (FlagState.WAIVED, "Pilot only")
    }


def test_a_sponsor_acknowledging_flags_of_others_projects_is_refused_for_those_alone(
    api, sponsor, own_flags, foreign_flag
):
    ids = [own_flags[0].pk, foreign_flag.pk, 10**9]

    body = api(sponsor).post(URL, {"action": "acknowledge", "ids": ids}, format="json").json()

    assert (body["done"], body["refused"], body["not_found"]) == (1, 1, 1)
    assert [(r["id"], r["status"], r["detail"]) for r in body["results"]] == [
        (own_flags[0].pk, "done", ""),
        (
            foreign_flag.pk,
            "refused",
            "Only the project's sponsor, an executive or an admin may act on this flag.",
        ),
        (10**9, "not_found", "No such flag."),
    ]
    assert Flag.objects.get(pk=own_flags[0].pk).state == FlagState.ACKNOWLEDGED
    assert Flag.objects.get(pk=foreign_flag.pk).state == FlagState.OPEN


def test_an_executive_acts_on_every_project_s_flags(api, executive, own_flags, foreign_flag):
    ids = [own_flags[0].pk, foreign_flag.pk]

    body = api(executive).post(URL, {"action": "acknowledge", "ids": ids}, format="json").json()

    assert body["done"] == 2


def test_a_viewer_is_refused_each_flag(api, viewer, own_flags):
    body = (
        api(viewer)
        .post(URL, {"action": "acknowledge", "ids": [own_flags[0].pk]}, format="json")
        .json()
    )

    assert [r["status"] for r in body["results"]] == ["refused"]
    assert Flag.objects.get(pk=own_flags[0].pk).state == FlagState.OPEN


def test_an_anonymous_request_is_refused(api, own_flags):
    response = api().post(URL, {"action": "acknowledge", "ids": [own_flags[0].pk]}, format="json")

    assert response.status_code in (401, 403)
    assert Flag.objects.get(pk=own_flags[0].pk).state == FlagState.OPEN


PAST = (timezone.now() - datetime.timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reason": None}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": "x" * 2001}, "reason"),
        ({"expires_at": None}, "expires_at"),
        ({"expires_at": PAST}, "expires_at"),
        ({"expires_at": "next tuesday"}, "expires_at"),
        ({"action": None}, "action"),
        ({"action": "delete"}, "action"),
        ({"ids": None}, "ids"),
        ({"ids": []}, "ids"),
        ({"ids": ["abc"]}, "ids"),
        ({"ids": [1.5]}, "ids"),
        ({"ids": "1,2"}, "ids"),
        ({"ids": [0]}, "ids"),
        ({"ids": [2**70]}, "ids"),
        ({"ids": list(range(1, BULK_MAX + 2))}, "ids"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_decides_nothing(
    api, sponsor, own_flags, changes, field
):
    payload = {
        "action": "waive",
        "ids": [f.pk for f in own_flags],
        "reason": "Pilot only",
        "expires_at": in_a_month(),
    }
    payload |= changes
    payload = {key: value for key, value in payload.items() if value is not None}

    response = api(sponsor).post(URL, payload, format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert set(Flag.objects.values_list("state", flat=True)) == {FlagState.OPEN}


def test_too_many_flags_says_how_many_are_allowed(api, sponsor):
    response = api(sponsor).post(
        URL, {"action": "acknowledge", "ids": list(range(1, BULK_MAX + 2))}, format="json"
    )

    assert response.json() == {
        "ids": [f"Select at most {BULK_MAX} flags at a time ({BULK_MAX + 1} were sent)."]
    }
