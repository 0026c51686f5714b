"""Contract tests for goals, KPIs, business strategies and CRM strategies."""

import pytest

from goals.models import KPI, BusinessGoal, KPICheckIn
from strategies.models import CRMStrategy
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    GoalFactory,
    KPICheckInFactory,
    KPIFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


# --- Goals


def test_executive_creates_a_goal_and_owns_it_whatever_the_payload_says(api, executive):
    someone = UserFactory()
    response = api(executive).post(
        "/api/goals/",
        {"title": "Grow revenue", "status": "active", "owner": someone.pk, "id": 999},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["owner"] == executive.pk
    assert body["id"] != 999
    assert body["status"] == "active"
    assert BusinessGoal.objects.get(pk=body["id"]).owner == executive


def test_goal_reads_include_counts(api, viewer, chain):
    goal = chain[0]
    body = api(viewer).get(f"/api/goals/{goal.pk}/").json()
    assert body["id"] == goal.pk
    assert body["business_strategy_count"] == 1
    assert body["active_business_strategy_count"] == 1


def test_executive_updates_and_partially_updates_a_goal(api, executive):
    goal = GoalFactory(owner=executive)
    client = api(executive)
    put = client.put(f"/api/goals/{goal.pk}/", {"title": "New title"}, format="json")
    assert put.status_code == 200
    patch = client.patch(f"/api/goals/{goal.pk}/", {"status": "retired"}, format="json")
    assert patch.status_code == 200
    goal.refresh_from_db()
    assert (goal.title, goal.status) == ("New title", "retired")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "Goal", "status": "Active"}, "status"),
        ({"description": "no title"}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "Goal", "horizon_start": "2026-13-45"}, "horizon_start"),
        ({"title": "Goal", "horizon_start": "2026-05-01", "horizon_end": "2026-01-01"}, None),
        ({"title": "Goal", "priority": 10**30}, "priority"),
        ({"title": ["not", "a", "string"]}, "title"),
    ],
)
def test_bad_goal_input_is_a_400_naming_the_field(api, executive, payload, field):
    response = api(executive).post("/api/goals/", payload, format="json")
    assert response.status_code == 400
    if field:
        assert field in response.json()
    assert not BusinessGoal.objects.exists()


def test_deleting_a_goal_with_strategies_is_a_409_naming_them(api, executive, chain):
    goal, business, _ = chain
    response = api(executive).delete(f"/api/goals/{goal.pk}/")
    assert response.status_code == 409
    assert business.title in response.json()["detail"]
    assert BusinessGoal.objects.filter(pk=goal.pk).exists()


def test_deleting_a_goal_whose_kpis_have_readings_is_a_409_naming_them(api, executive):
    goal = GoalFactory(owner=executive)
    read = KPIFactory(goal=goal, name="Net revenue retention")
    KPICheckInFactory(kpi=read)
    KPIFactory(goal=goal, name="Never measured")
    response = api(executive).delete(f"/api/goals/{goal.pk}/")
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "KPIs with readings: Net revenue retention" in detail
    assert "Never measured" not in detail
    assert KPICheckIn.objects.filter(kpi=read).exists()


def test_deleting_a_goal_whose_kpis_have_no_readings_deletes_them_with_it(api, executive):
    goal = GoalFactory(owner=executive)
    KPIFactory(goal=goal, name="Never measured")
    assert api(executive).delete(f"/api/goals/{goal.pk}/").status_code == 204
    assert not KPI.objects.exists()


def test_deleting_a_goal_without_dependents_works(api, executive):
    goal = GoalFactory()
    assert api(executive).delete(f"/api/goals/{goal.pk}/").status_code == 204
    assert not BusinessGoal.objects.filter(pk=goal.pk).exists()


def test_goals_filter_by_status_and_owner_and_order(api, viewer, executive):
    GoalFactory(title="B", status="active", owner=executive)
    GoalFactory(title="A", status="draft", owner=executive)
    GoalFactory(title="C", status="active")
    client = api(viewer)
    active = client.get("/api/goals/", {"status": "active"}).json()
    assert {g["title"] for g in active["results"]} == {"B", "C"}
    mine = client.get("/api/goals/", {"owner": executive.pk, "ordering": "-title"}).json()
    assert [g["title"] for g in mine["results"]] == ["B", "A"]


def test_lists_are_paginated_and_page_size_is_capped_at_200(api, viewer, executive):
    BusinessGoal.objects.bulk_create(
        [BusinessGoal(title=f"Goal {n:03}", owner=executive) for n in range(205)]
    )
    client = api(viewer)
    page = client.get("/api/goals/", {"page_size": 1000}).json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 205
    assert len(page["results"]) == 200
    assert page["next"] is not None and page["previous"] is None
    default = client.get("/api/goals/").json()
    assert len(default["results"]) == 50
    assert client.get("/api/goals/", {"page": 99}).status_code == 404


# --- KPIs


def test_kpi_is_created_under_a_goal_and_records_check_ins(api, executive, chain):
    client = api(executive)
    response = client.post(
        "/api/kpis/",
        {"goal": chain[0].pk, "name": "Revenue growth", "unit": "%", "baseline": 2, "target": 8},
        format="json",
    )
    assert response.status_code == 201
    kpi_id = response.json()["id"]
    check_in = client.post(
        f"/api/kpis/{kpi_id}/check-ins/", {"value": "5", "recorded_on": "2026-03-01"}, format="json"
    )
    assert check_in.status_code == 201
    body = client.get(f"/api/kpis/{kpi_id}/").json()
    assert body["current"] == "5.00"
    assert body["progress_percent"] == 50
    assert [c["value"] for c in body["check_ins"]] == ["5.00"]


def test_kpi_target_equal_to_baseline_is_a_400(api, executive, chain):
    response = api(executive).post(
        "/api/kpis/",
        {"goal": chain[0].pk, "name": "Flat", "baseline": 5, "target": 5},
        format="json",
    )
    assert response.status_code == 400
    assert "target" in response.json()


def test_kpi_huge_numbers_are_a_400(api, executive, chain):
    response = api(executive).post(
        "/api/kpis/",
        {"goal": chain[0].pk, "name": "Huge", "baseline": 1, "target": "1e40"},
        format="json",
    )
    assert response.status_code == 400
    assert "target" in response.json()


def test_kpi_cannot_move_to_another_goal(api, executive):
    kpi = KPIFactory()
    other = GoalFactory()
    response = api(executive).patch(f"/api/kpis/{kpi.pk}/", {"goal": other.pk}, format="json")
    assert response.status_code == 400
    assert "goal" in response.json()


def test_kpis_filter_by_parent_goal(api, viewer):
    kpi = KPIFactory()
    KPIFactory()
    body = api(viewer).get("/api/kpis/", {"goal": kpi.goal_id}).json()
    assert [k["id"] for k in body["results"]] == [kpi.pk]


def test_viewer_cannot_create_a_kpi(api, viewer, chain):
    response = api(viewer).post(
        "/api/kpis/", {"goal": chain[0].pk, "name": "X", "baseline": 1, "target": 2}, format="json"
    )
    assert response.status_code == 403


# --- Business strategies


def test_business_strategy_links_to_its_goal_by_id(api, executive, chain):
    response = api(executive).post(
        "/api/business-strategies/",
        {"goal": chain[0].pk, "title": "Mature markets", "scope": "Top 100 accounts"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["goal"] == chain[0].pk
    assert response.json()["owner"] == executive.pk


def test_business_strategy_under_a_missing_goal_is_a_400(api, executive):
    response = api(executive).post(
        "/api/business-strategies/", {"goal": 987654, "title": "Orphan"}, format="json"
    )
    assert response.status_code == 400
    assert "goal" in response.json()


def test_business_strategy_under_a_retired_goal_is_a_400(api, executive):
    goal = GoalFactory(status="retired")
    response = api(executive).post(
        "/api/business-strategies/", {"goal": goal.pk, "title": "Late"}, format="json"
    )
    assert response.status_code == 400
    assert "goal" in response.json()


def test_business_strategies_filter_by_goal_and_status(api, viewer, chain):
    BusinessStrategyFactory(status="draft")
    body = (
        api(viewer)
        .get("/api/business-strategies/", {"goal": chain[0].pk, "status": "active"})
        .json()
    )
    assert [b["id"] for b in body["results"]] == [chain[1].pk]


def test_business_strategy_served_by_a_crm_strategy_cannot_be_deleted(api, executive, chain):
    response = api(executive).delete(f"/api/business-strategies/{chain[1].pk}/")
    assert response.status_code == 409
    assert chain[2].title in response.json()["detail"]


# --- CRM strategies


def test_crm_strategy_serves_business_strategies_written_as_ids(api, executive, chain):
    second = BusinessStrategyFactory(goal=chain[0])
    client = api(executive)
    response = client.post(
        "/api/crm-strategies/",
        {"title": "Break silos", "business_strategies": [chain[1].pk, second.pk]},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert sorted(body["business_strategies"]) == sorted([chain[1].pk, second.pk])
    assert body["is_anchored"] is False  # draft by default
    patch = client.patch(
        f"/api/crm-strategies/{body['id']}/",
        {"business_strategies": [second.pk], "status": "active"},
        format="json",
    )
    assert patch.json()["business_strategies"] == [second.pk]
    assert patch.json()["is_anchored"] is True


def test_crm_strategy_cannot_serve_a_retired_business_strategy(api, executive):
    retired = BusinessStrategyFactory(status="retired")
    response = api(executive).post(
        "/api/crm-strategies/",
        {"title": "Stale", "business_strategies": [retired.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert "business_strategies" in response.json()
    assert not CRMStrategy.objects.filter(title="Stale").exists()


def test_crm_strategy_serving_a_missing_business_strategy_is_a_400(api, executive):
    response = api(executive).post(
        "/api/crm-strategies/", {"title": "Ghost", "business_strategies": [424242]}, format="json"
    )
    assert response.status_code == 400
    assert "business_strategies" in response.json()


def test_crm_strategies_filter_by_business_strategy(api, viewer, chain):
    CRMStrategyFactory()
    body = api(viewer).get("/api/crm-strategies/", {"business_strategy": chain[1].pk}).json()
    assert [c["id"] for c in body["results"]] == [chain[2].pk]


def test_crm_strategy_that_projects_link_cannot_be_deleted(api, executive, own_project, chain):
    response = api(executive).delete(f"/api/crm-strategies/{chain[2].pk}/")
    assert response.status_code == 409
    assert own_project.title in response.json()["detail"]
