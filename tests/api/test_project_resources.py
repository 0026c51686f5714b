"""Contract tests for projects, features, links, metrics, phases, check-ins and the trace."""

import pytest

from projects.models import CRMProject, Feature, ProjectLink
from tests.factories import (
    CRMStrategyFactory,
    FeatureFactory,
    FeatureLinkFactory,
    GoalFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
)

pytestmark = pytest.mark.django_db


def test_pm_creates_a_linked_project_and_manages_it(api, pm, chain):
    response = api(pm).post(
        "/api/projects/",
        {
            "title": "Partner portal",
            "links": [
                {"crm_strategy": chain[2].pk, "rationale": "Partners register their deals here."}
            ],
            "budget_people": "100.50",
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["manager"] == pm.pk
    assert body["status"] == "proposed"
    assert body["crm_strategies"] == [chain[2].pk]
    assert body["is_traceable"] is True
    assert body["budget_capability"] == "100.50"
    assert body["metrics"] == [] and body["phases"] == [] and body["check_ins"] == []


def test_a_projects_budgets_are_decimal_strings_with_the_currency_beside_them(
    api, pm, chain, settings
):
    settings.CURRENCY = "GBP"
    created = api(pm).post(
        "/api/projects/",
        {
            "title": "Partner portal",
            "links": [
                {"crm_strategy": chain[2].pk, "rationale": "Partners register their deals here."}
            ],
            "budget_technology": "999.99",
            "budget_people": "0.01",
            "currency": "USD",  # read-only: the setting says what the amounts are in
        },
        format="json",
    )
    assert created.status_code == 201, created.json()

    body = api(pm).get(f"/api/projects/{created.json()['id']}/").json()

    assert body["budget_technology"] == "999.99"
    assert body["budget_people"] == "0.01"
    assert body["budget_total"] == "1000.00"
    assert body["currency"] == "GBP"
    listed = api(pm).get("/api/projects/").json()["results"]
    assert {row["currency"] for row in listed} == {"GBP"}


def test_nested_links_carry_rationale_and_weight(api, pm, chain):
    response = api(pm).post(
        "/api/projects/",
        {
            "title": "Key accounts",
            "links": [
                {
                    "crm_strategy": chain[2].pk,
                    "rationale": "Serves the top 100 accounts",
                    "weight": 60,
                }
            ],
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["links"] == [
        {"crm_strategy": chain[2].pk, "rationale": "Serves the top 100 accounts", "weight": 60}
    ]


def test_writing_ids_keeps_the_rationale_of_existing_links(api, pm, own_project, chain):
    response = api(pm).patch(
        f"/api/projects/{own_project.pk}/", {"crm_strategies": [chain[2].pk]}, format="json"
    )
    assert response.status_code == 200
    links = {link["crm_strategy"]: link["rationale"] for link in response.json()["links"]}
    assert links == {chain[2].pk: "Serves this CRM strategy directly."}


def test_writing_ids_cannot_add_a_link_without_its_rationale(api, pm, own_project, chain):
    second = CRMStrategyFactory(title="Retention")
    response = api(pm).patch(
        f"/api/projects/{own_project.pk}/",
        {"crm_strategies": [chain[2].pk, second.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "crm_strategies": [
            "A new link needs its rationale; send it in `links` as "
            "{crm_strategy, rationale, weight} for: Retention."
        ]
    }
    assert list(own_project.links.values_list("crm_strategy", flat=True)) == [chain[2].pk]


def test_ids_and_nested_links_together_are_a_400(api, pm, chain):
    response = api(pm).post(
        "/api/projects/",
        {"title": "Both", "crm_strategies": [chain[2].pk], "links": []},
        format="json",
    )
    assert response.status_code == 400
    assert "links" in response.json()


def test_link_to_a_missing_crm_strategy_is_a_400(api, pm):
    response = api(pm).post(
        "/api/projects/", {"title": "Ghost link", "crm_strategies": [31337]}, format="json"
    )
    assert response.status_code == 400
    assert "crm_strategies" in response.json()
    assert not CRMProject.objects.filter(title="Ghost link").exists()


def test_link_to_a_retired_crm_strategy_writes_nothing(api, pm):
    retired = CRMStrategyFactory(status="retired")
    response = api(pm).post(
        "/api/projects/", {"title": "Half done?", "crm_strategies": [retired.pk]}, format="json"
    )
    assert response.status_code == 400
    assert "crm_strategies" in response.json()
    # The project create and the link write are one transaction: no project without its links.
    assert not CRMProject.objects.filter(title="Half done?").exists()


def test_approval_fields_and_ids_cannot_be_set_by_the_client(api, pm, own_project):
    response = api(pm).patch(
        f"/api/projects/{own_project.pk}/",
        {"approved_at": "2026-01-01T00:00:00Z", "approved_by": pm.pk, "id": 4242},
        format="json",
    )
    assert response.status_code == 200
    own_project.refresh_from_db()
    assert own_project.approved_at is None and own_project.approved_by is None
    assert CRMProject.objects.filter(pk=own_project.pk).exists()


def test_status_approved_cannot_be_patched_in(api, pm, own_project):
    response = api(pm).patch(
        f"/api/projects/{own_project.pk}/", {"status": "approved"}, format="json"
    )
    assert response.status_code == 400
    assert "status" in response.json()


def test_pm_cannot_create_a_project_managed_by_someone_else(api, pm, other_pm):
    response = api(pm).post(
        "/api/projects/", {"title": "Handed off", "manager": other_pm.pk}, format="json"
    )
    assert response.status_code == 400
    assert "manager" in response.json()


def test_manager_must_be_a_project_manager(api, admin_user, viewer):
    response = api(admin_user).post(
        "/api/projects/", {"title": "Viewer-run", "manager": viewer.pk}, format="json"
    )
    assert response.status_code == 400
    assert "manager" in response.json()


def test_sponsor_approves_a_project_with_a_metric_and_a_roadmap(api, sponsor, own_project):
    SuccessMetricFactory(project=own_project)
    RoadmapPhaseFactory(project=own_project)
    response = api(sponsor).post(f"/api/projects/{own_project.pk}/approve/")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["approved_by"]) == (
        own_project.pk,
        "approved",
        sponsor.pk,
    )
    assert body["is_traceable"] is True and len(body["phases"]) == 1


def test_approval_without_a_success_metric_is_a_400_saying_why(api, sponsor, own_project):
    RoadmapPhaseFactory(project=own_project)
    response = api(sponsor).post(f"/api/projects/{own_project.pk}/approve/")
    assert response.status_code == 400
    assert response.json() == {
        "status": ["Cannot approve until a success metric has a baseline and a target."]
    }


def test_approval_without_a_roadmap_is_a_400_saying_why(api, sponsor, own_project):
    SuccessMetricFactory(project=own_project)
    response = api(sponsor).post(f"/api/projects/{own_project.pk}/approve/")
    assert response.status_code == 400
    assert response.json() == {
        "status": ["Cannot approve until the roadmap has a phase or milestone."]
    }


def test_manager_cannot_approve_their_own_project(api, pm, own_project):
    SuccessMetricFactory(project=own_project)
    RoadmapPhaseFactory(project=own_project)
    assert api(pm).post(f"/api/projects/{own_project.pk}/approve/").status_code == 403


def test_a_user_without_a_role_gets_404_approving(api, nobody, own_project):
    assert api(nobody).post(f"/api/projects/{own_project.pk}/approve/").status_code == 404


def test_approving_a_project_that_does_not_exist_is_a_404(api, sponsor):
    assert api(sponsor).post("/api/projects/987654/approve/").status_code == 404


def test_pm_cannot_edit_someone_elses_project(api, pm, other_project):
    response = api(pm).patch(f"/api/projects/{other_project.pk}/", {"title": "Mine"}, format="json")
    assert response.status_code == 403


def test_an_approved_project_cannot_be_deleted(api, pm, sponsor, own_project):
    SuccessMetricFactory(project=own_project)
    RoadmapPhaseFactory(project=own_project)
    assert api(sponsor).post(f"/api/projects/{own_project.pk}/approve/").status_code == 200
    response = api(pm).delete(f"/api/projects/{own_project.pk}/")
    assert response.status_code == 409
    assert "set its status to cancelled" in response.json()["detail"]
    assert CRMProject.objects.filter(pk=own_project.pk).exists()


@pytest.mark.parametrize(
    "field, who",
    [("sponsor", "viewer"), ("sponsor", "pm"), ("business_owner", "nobody"), ("manager", "viewer")],
)
def test_project_people_must_hold_the_right_role(request, api, pm, own_project, field, who):
    person = request.getfixturevalue(who)

    response = api(pm).patch(f"/api/projects/{own_project.pk}/", {field: person.pk}, format="json")

    own_project.refresh_from_db()
    assert response.status_code == 400
    assert field in response.json()
    assert getattr(own_project, f"{field}_id") != person.pk


def test_a_manager_cannot_create_a_project_for_someone_else(api, pm, other_pm):
    response = api(pm).post(
        "/api/projects/", {"title": "For you", "manager": other_pm.pk}, format="json"
    )
    assert response.status_code == 400
    assert "manage yourself" in response.json()["manager"][0]
    assert not CRMProject.objects.filter(title="For you").exists()


def test_projects_filter_by_status_manager_and_parent_strategy(
    api, viewer, pm, own_project, other_project, chain
):
    client = api(viewer)
    by_manager = client.get("/api/projects/", {"owner": pm.pk}).json()
    assert [p["id"] for p in by_manager["results"]] == [own_project.pk]
    by_parent = client.get("/api/projects/", {"crm_strategy": chain[2].pk}).json()
    assert [p["id"] for p in by_parent["results"]] == [own_project.pk]
    untraced = client.get("/api/projects/", {"is_traceable": "false"}).json()
    assert [p["id"] for p in untraced["results"]] == [other_project.pk]
    proposed = client.get("/api/projects/", {"status": "proposed"}).json()
    assert proposed["count"] == 2


def test_trace_lists_every_chain_with_status_and_traceability(
    api, viewer, own_project, chain, executive
):
    retired_goal = GoalFactory(status="retired", owner=executive)
    from tests.factories import BusinessStrategyFactory

    dead_end = CRMStrategyFactory(serves=[BusinessStrategyFactory(goal=retired_goal)])
    ProjectLink.objects.create(project=own_project, crm_strategy=dead_end, rationale="Maybe")
    body = api(viewer).get(f"/api/projects/{own_project.pk}/trace/").json()
    assert body["project"] == {
        "id": own_project.pk,
        "title": own_project.title,
        "status": "proposed",
    }
    assert body["is_traceable"] is True
    by_strategy = {chain_["crm_strategy"]["id"]: chain_ for chain_ in body["chains"]}
    good = by_strategy[chain[2].pk]
    assert good["traceable"] is True
    assert good["goal"] == {"id": chain[0].pk, "title": chain[0].title, "status": "active"}
    assert good["business_strategy"]["id"] == chain[1].pk
    bad = by_strategy[dead_end.pk]
    assert bad["traceable"] is False
    assert bad["goal"]["status"] == "retired"


def test_trace_of_a_project_without_links_is_empty_and_untraceable(api, viewer, other_project):
    body = api(viewer).get(f"/api/projects/{other_project.pk}/trace/").json()
    assert body["chains"] == [] and body["is_traceable"] is False


# --- Features


def test_pm_adds_a_feature_with_links_to_their_project(api, pm, own_project, chain):
    response = api(pm).post(
        "/api/features/",
        {
            "project": own_project.pk,
            "title": "Partner onboarding",
            "status": "planned",
            "links": [
                {"crm_strategy": chain[2].pk, "rationale": "Recruits partners in new markets"}
            ],
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["crm_strategies"] == [chain[2].pk]
    assert body["is_traceable"] is True
    assert body["links"][0]["rationale"] == "Recruits partners in new markets"


def test_feature_in_a_nonexistent_project_is_a_400(api, pm):
    response = api(pm).post("/api/features/", {"project": 99999, "title": "Lost"}, format="json")
    assert response.status_code == 400
    assert "project" in response.json()


def test_feature_in_someone_elses_project_is_a_403(api, pm, other_project):
    response = api(pm).post(
        "/api/features/", {"project": other_project.pk, "title": "Sneaky"}, format="json"
    )
    assert response.status_code == 403
    assert not Feature.objects.filter(title="Sneaky").exists()


def test_feature_cannot_move_to_another_project(api, admin_user, own_project, other_project):
    feature = FeatureFactory(project=own_project)
    response = api(admin_user).patch(
        f"/api/features/{feature.pk}/", {"project": other_project.pk}, format="json"
    )
    assert response.status_code == 400
    assert "project" in response.json()


def test_features_filter_by_project_status_and_strategy(api, viewer, own_project, chain):
    linked = FeatureFactory(project=own_project, status="planned")
    FeatureLinkFactory(feature=linked, crm_strategy=chain[2])
    FeatureFactory(project=own_project, status="dropped")
    FeatureFactory()
    client = api(viewer)
    in_project = client.get("/api/features/", {"project": own_project.pk}).json()
    assert in_project["count"] == 2
    planned = client.get("/api/features/", {"project": own_project.pk, "status": "planned"})
    assert [f["id"] for f in planned.json()["results"]] == [linked.pk]
    by_strategy = client.get("/api/features/", {"crm_strategy": chain[2].pk}).json()
    assert [f["id"] for f in by_strategy["results"]] == [linked.pk]


def test_reorder_features(api, pm, own_project):
    first = FeatureFactory(project=own_project)
    second = FeatureFactory(project=own_project)
    client = api(pm)
    response = client.post(
        f"/api/projects/{own_project.pk}/reorder-features/",
        {"features": [second.pk, first.pk]},
        format="json",
    )
    assert response.status_code == 204
    listed = client.get("/api/features/", {"project": own_project.pk}).json()["results"]
    assert [f["id"] for f in listed] == [second.pk, first.pk]
    missing = client.post(
        f"/api/projects/{own_project.pk}/reorder-features/",
        {"features": [second.pk]},
        format="json",
    )
    assert missing.status_code == 400


def test_feature_delete_by_its_manager(api, pm, own_project):
    feature = FeatureFactory(project=own_project)
    assert api(pm).delete(f"/api/features/{feature.pk}/").status_code == 204
    assert not Feature.objects.filter(pk=feature.pk).exists()


# --- Metrics, phases, check-ins


def test_metrics_phases_and_check_ins_show_nested_on_the_project(api, pm, own_project):
    client = api(pm)
    metric = client.post(
        "/api/metrics/",
        {"project": own_project.pk, "name": "Partner revenue", "baseline": 0, "target": 10},
        format="json",
    )
    assert metric.status_code == 201
    phase = client.post(
        "/api/phases/",
        {"project": own_project.pk, "name": "Pilot", "kind": "milestone"},
        format="json",
    )
    assert phase.status_code == 201
    check_in = client.post(
        "/api/project-check-ins/",
        {"project": own_project.pk, "summary": "Pilot partners signed", "health": "on_track"},
        format="json",
    )
    assert check_in.status_code == 201
    assert check_in.json()["author"] == pm.pk
    body = client.get(f"/api/projects/{own_project.pk}/").json()
    assert [m["name"] for m in body["metrics"]] == ["Partner revenue"]
    assert [p["kind"] for p in body["phases"]] == ["milestone"]
    assert [c["summary"] for c in body["check_ins"]] == ["Pilot partners signed"]


def test_metric_with_target_equal_to_baseline_is_a_400(api, pm, own_project):
    response = api(pm).post(
        "/api/metrics/",
        {"project": own_project.pk, "name": "Flat", "baseline": 3, "target": 3},
        format="json",
    )
    assert response.status_code == 400
    assert "target" in response.json()


def test_phase_dates_out_of_order_are_a_400(api, pm, own_project):
    response = api(pm).post(
        "/api/phases/",
        {
            "project": own_project.pk,
            "name": "Backwards",
            "start_date": "2026-05-01",
            "end_date": "2026-01-01",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "end_date" in response.json()


def test_check_ins_are_corrected_by_who_may_add_them(api, pm, other_pm, own_project):
    """A check-in recorded by mistake is corrected (or deleted) through the API like the other
    writes (tests/web/test_corrections.py), by the project's manager only."""
    from tests.factories import ProjectCheckInFactory

    check_in = ProjectCheckInFactory(project=own_project)
    url = f"/api/project-check-ins/{check_in.pk}/"
    assert api(other_pm).patch(url, {"summary": "Rewritten"}, format="json").status_code == 403
    response = api(pm).patch(url, {"summary": "Rewritten"}, format="json")
    assert response.status_code == 200
    assert response.json()["summary"] == "Rewritten"


def test_projects_filter_by_the_business_strategy_they_execute_each_once(api, viewer):
    from tests.factories import BusinessStrategyFactory, ProjectFactory, ProjectLinkFactory

    business = BusinessStrategyFactory(title="Partners first")
    other = BusinessStrategyFactory(title="Elsewhere")
    first = CRMStrategyFactory(serves=[business])
    second = CRMStrategyFactory(serves=[business, other])
    twice = ProjectFactory(title="Through two strategies")
    ProjectLinkFactory(project=twice, crm_strategy=first)
    ProjectLinkFactory(project=twice, crm_strategy=second)
    ProjectLinkFactory(
        project=ProjectFactory(title="Only elsewhere"),
        crm_strategy=CRMStrategyFactory(serves=[other]),
    )
    ProjectFactory(title="Linked to nothing")
    client = api(viewer)

    response = client.get("/api/projects/", {"business_strategy": business.pk})
    assert response.status_code == 200
    assert [row["title"] for row in response.json()["results"]] == ["Through two strategies"]
    refused = client.get("/api/projects/", {"business_strategy": "999999"})
    assert refused.status_code == 400
    assert list(refused.json()) == ["business_strategy"]
