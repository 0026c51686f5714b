"""Contract tests for flags (filters, acknowledge, waive), the summary and the scan lifecycle."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from alignment import engine
from alignment.models import Flag, Scan
from tests.factories import ProjectFactory, ProjectLinkFactory

pytestmark = pytest.mark.django_db

FLAG_FIELDS = {
    "id",
    "rule",
    "severity",
    "subject_type",
    "subject_id",
    "subject_label",
    "project",
    "state",
    "message",
    "first_seen",
    "last_seen",
    "resolved_at",
    "acknowledged_by",
    "acknowledged_at",
    "waived_by",
    "waived_at",
    "waiver_reason",
    "waiver_expires_at",
    "explanation",  # a traceability flag's broken chain in words (alignment.explain)
    "path",  # and as data
}


def make_flag(project=None, **fields):
    now = timezone.now()
    values = {
        "rule": "project.no_roadmap",
        "severity": "warning",
        "subject_type": "project",
        "subject_id": project.pk if project else 1,
        "subject_label": project.title if project else "Somebody",
        "project": project,
        "message": "Add a roadmap phase.",
        "first_seen": now,
        "last_seen": now,
    }
    return Flag.objects.create(**(values | fields))


def in_a_month():
    return (timezone.now() + datetime.timedelta(days=30)).isoformat()


def test_flag_representation_has_the_contract_fields(api, viewer, own_project):
    flag = make_flag(own_project)
    body = api(viewer).get(f"/api/flags/{flag.pk}/").json()
    assert set(body) == FLAG_FIELDS
    assert body["state"] == "open" and body["rule"] == "project.no_roadmap"


def test_flags_filter_by_state_rule_severity_and_subject(api, viewer, own_project, chain):
    roadmap = make_flag(own_project)
    make_flag(own_project, rule="project.no_sponsor", severity="critical", state="acknowledged")
    goal_flag = make_flag(
        rule="goal.no_strategy",
        subject_type="goal",
        subject_id=chain[0].pk,
        subject_label=chain[0].title,
        severity="info",
    )
    client = api(viewer)

    def ids(**query):
        return [f["id"] for f in client.get("/api/flags/", query).json()["results"]]

    assert ids(state="open", subject_type="project") == [roadmap.pk]
    assert ids(rule="goal.no_strategy") == [goal_flag.pk]
    assert ids(severity="info") == [goal_flag.pk]
    assert ids(subject_type="goal", subject_id=chain[0].pk) == [goal_flag.pk]
    assert len(ids(subject_id=own_project.pk, subject_type="project")) == 2
    assert client.get("/api/flags/", {"state": "closed"}).status_code == 400
    assert client.get("/api/flags/", {"subject_id": "x"}).status_code == 400


def test_sponsor_acknowledges_a_flag_on_their_project(api, sponsor, own_project):
    flag = make_flag(own_project)
    response = api(sponsor).post(f"/api/flags/{flag.pk}/acknowledge/")
    assert response.status_code == 200
    assert response.json()["state"] == "acknowledged"
    assert response.json()["acknowledged_by"] == sponsor.pk


def test_acknowledging_twice_is_a_409(api, sponsor, own_project):
    flag = make_flag(own_project, state="acknowledged")
    response = api(sponsor).post(f"/api/flags/{flag.pk}/acknowledge/")
    assert response.status_code == 409
    assert "detail" in response.json()


def test_acknowledging_a_resolved_flag_is_a_409(api, executive, own_project):
    flag = make_flag(own_project, state="resolved", resolved_at=timezone.now())
    assert api(executive).post(f"/api/flags/{flag.pk}/acknowledge/").status_code == 409


def test_sponsor_waives_with_a_reason_and_an_expiry(api, sponsor, own_project):
    flag = make_flag(own_project)
    expires = in_a_month()
    response = api(sponsor).post(
        f"/api/flags/{flag.pk}/waive/",
        {"reason": "Roadmap follows the pilot", "expires_at": expires},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "waived"
    assert body["waiver_reason"] == "Roadmap follows the pilot"
    assert body["waived_by"] == sponsor.pk
    assert body["waiver_expires_at"] is not None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"expires_at": "2099-01-01T00:00:00Z"}, "reason"),
        ({"reason": "Fine for now"}, "expires_at"),
        ({"reason": "Too late", "expires_at": "2000-01-01T00:00:00Z"}, "expires_at"),
        ({"reason": "Garbled", "expires_at": "next tuesday"}, "expires_at"),
        ({"reason": "   ", "expires_at": "2099-01-01T00:00:00Z"}, "reason"),
        ({"reason": "x" * 2001, "expires_at": "2099-01-01T00:00:00Z"}, "reason"),
    ],
)
def test_waiver_needs_a_reason_and_a_future_expiry(api, sponsor, own_project, payload, field):
    flag = make_flag(own_project)
    response = api(sponsor).post(f"/api/flags/{flag.pk}/waive/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    flag.refresh_from_db()
    assert flag.state == "open"


def test_sponsor_of_another_project_cannot_act_on_its_flags(api, sponsor, other_project):
    flag = make_flag(other_project)
    client = api(sponsor)
    assert client.post(f"/api/flags/{flag.pk}/acknowledge/").status_code == 403
    waive = client.post(
        f"/api/flags/{flag.pk}/waive/",
        {"reason": "Not mine", "expires_at": in_a_month()},
        format="json",
    )
    assert waive.status_code == 403
    flag.refresh_from_db()
    assert flag.state == "open"


def test_flag_state_cannot_be_written_directly(api, admin_user, own_project):
    flag = make_flag(own_project)
    client = api(admin_user)
    assert (
        client.patch(f"/api/flags/{flag.pk}/", {"state": "resolved"}, format="json").status_code
        == 405
    )
    assert client.post("/api/flags/", {"rule": "x"}, format="json").status_code == 405


def test_summary_has_the_headline_figures_of_the_last_full_scan(
    api, viewer, own_project, other_project
):
    scan = engine.scan_full()
    Flag.objects.all().delete()
    make_flag(own_project, severity="critical")  # after the scan: open flags are live

    body = api(viewer).get("/api/alignment/summary/").json()

    assert body["projects_total"] == 2
    assert body["projects_traced"] == 1
    assert body["projects_traced_pct"] == 50
    assert body["figures_as_of"] == scan.snapshot.taken_at.isoformat().replace("+00:00", "Z")
    assert body["open_flags_by_severity"]["critical"] == 1
    assert body["open_flags_total"] == 1
    assert {"budget_total", "budget_traced_pct", "features_traced_pct", "last_scan"} <= set(body)


def test_summary_before_any_full_scan_has_null_figures_and_live_flags(api, viewer, own_project):
    make_flag(own_project, severity="warning")

    body = api(viewer).get("/api/alignment/summary/").json()

    assert body["figures_as_of"] is None
    assert body["projects_total"] is None and body["budget_traced"] is None
    assert body["projects_traced_pct"] is None and body["last_scan"] is None
    assert body["open_flags_by_severity"]["warning"] == body["open_flags_total"] == 1


def test_summary_amounts_are_decimal_strings_with_the_currency(api, viewer, chain, settings):
    settings.CURRENCY = "USD"
    traced = ProjectFactory(budget_technology=Decimal("999.99"), budget_people=Decimal("0.01"))
    ProjectLinkFactory(project=traced, crm_strategy=chain[2])
    ProjectFactory(budget_technology=Decimal("0.10"), budget_people=Decimal("0.20"))
    engine.scan_full()

    body = api(viewer).get("/api/alignment/summary/").json()

    assert body["currency"] == "USD"
    assert body["budget_traced"] == "1000.00"
    assert body["budget_total"] == "1000.30"
    assert body["budget_technology"] == "1000.09"
    assert body["budget_capability"] == "0.21"


def test_summary_is_refused_to_a_user_without_a_role(api, nobody):
    assert api(nobody).get("/api/alignment/summary/").status_code == 403


def test_scan_lifecycle_in_eager_mode(
    api, executive, own_project, django_capture_on_commit_callbacks
):
    client = api(executive)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/alignment/scan/")
    assert response.status_code == 202
    started = response.json()
    assert set(started) == {"id", "state"}
    assert started["state"] in ("queued", "running", "done")
    scan = client.get(f"/api/alignment/scans/{started['id']}/").json()
    assert set(scan) == {
        "id",
        "state",
        "started_at",
        "finished_at",
        "attempts",
        "opened",
        "resolved",
        "error",
    }
    assert scan["state"] == "done" and scan["error"] == "" and scan["attempts"] == 1
    assert scan["finished_at"] is not None
    # A first scan over an empty flag table: every open flag is one it opened.
    assert scan["opened"] == Flag.objects.filter(state="open").count()


def test_project_manager_cannot_start_a_scan(api, pm):
    assert api(pm).post("/api/alignment/scan/").status_code == 403
    assert not Scan.objects.exists()


def test_scan_that_does_not_exist_is_a_404(api, viewer):
    assert api(viewer).get("/api/alignment/scans/424242/").status_code == 404
