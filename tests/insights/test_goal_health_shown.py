"""Goal health on the API (`health`, `health_reasons`), the pages (goals list and page,
business strategies, strategy map, dashboard) and the demo (a red, an amber, a green goal)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm_alignment import demo
from goals.health import verdicts
from goals.models import BusinessGoal
from projects.models import Health
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    GoalFactory,
    KPIFactory,
    ProjectCheckInFactory,
    ProjectFactory,
    ProjectLinkFactory,
)
from tests.tokens import token_for

pytestmark = pytest.mark.django_db


def red_goal(title="Red goal"):
    goal = GoalFactory(title=title)
    KPIFactory(goal=goal, name="Revenue", current=15)
    business = BusinessStrategyFactory(goal=goal)
    project = ProjectFactory()
    ProjectLinkFactory(project=project, crm_strategy=CRMStrategyFactory(serves=[business]))
    ProjectCheckInFactory(project=project, health=Health.OFF_TRACK)
    return goal, business


def api_get(client, user, url):
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client.get(url)


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


def test_the_api_gives_health_and_reasons_for_goals_and_business_strategies(viewer, api_client):
    goal, business = red_goal()
    reasons = ["1 of 1 live project off track at the newest check-in."]
    listed = api_get(api_client, viewer, "/api/goals/").json()["results"]
    assert [(g["id"], g["health"], g["health_reasons"]) for g in listed] == [
        (goal.pk, "red", reasons)
    ]
    one = api_get(api_client, viewer, f"/api/goals/{goal.pk}/").json()
    assert (one["health"], one["health_reasons"]) == ("red", reasons)
    strategy = api_get(api_client, viewer, f"/api/business-strategies/{business.pk}/").json()
    assert (strategy["health"], strategy["health_reasons"]) == ("red", reasons)


def test_the_goals_api_costs_the_same_for_2_and_20_goals(viewer, api_client):
    def cost():
        api_get(api_client, viewer, "/api/goals/")
        with CaptureQueriesContext(connection) as captured:
            response = api_get(api_client, viewer, "/api/goals/")
        assert response.status_code == 200
        return len(captured), len(response.json()["results"])

    for n in range(2):
        red_goal(f"Goal {n}")
    two = cost()
    for n in range(2, 20):
        red_goal(f"Goal {n}")
    twenty = cost()
    assert (two[1], twenty[1]) == (2, 20)
    assert two[0] == twenty[0]


def test_the_health_fields_are_in_the_schema(client):
    schema = client.get("/api/schema/?format=json").json()
    for name in ("Goal", "BusinessStrategy"):
        properties = schema["components"]["schemas"][name]["properties"]
        assert properties["health"]["readOnly"] is True
        assert properties["health_reasons"]["type"] == "array"


def test_the_goals_list_shows_the_badge_with_its_reasons_described(client, viewer):
    goal, _ = red_goal()
    client.force_login(viewer)
    page = client.get("/goals/").content.decode()
    assert f'aria-describedby="goal-health-{goal.pk}-why"' in page
    assert (
        f'<span class="visually-hidden" id="goal-health-{goal.pk}-why">Health red: 1 of 1 live '
        "project off track at the newest check-in.</span>"
    ) in page
    assert "How health is judged" in page and "within 90 days" in page


def test_the_goals_list_costs_the_same_for_2_and_20_goals(client, viewer):
    client.force_login(viewer)

    def cost():
        client.get("/goals/")
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/goals/").status_code == 200
        return len(captured)

    for n in range(2):
        red_goal(f"Goal {n}")
    two = cost()
    for n in range(2, 20):
        red_goal(f"Goal {n}")
    assert cost() == two


def test_the_goal_page_lists_the_reasons_visibly(client, viewer):
    goal, business = red_goal()
    client.force_login(viewer)
    page = client.get(f"/goals/{goal.pk}/").content.decode()
    assert f'<ul class="health__reasons" id="goal-health-{goal.pk}-why">' in page
    assert "<li>1 of 1 live project off track at the newest check-in.</li>" in page
    strategy_page = client.get(f"/strategies/business/{business.pk}/").content.decode()
    assert f'id="bs-health-{business.pk}-why"' in strategy_page


def test_the_strategy_map_and_dashboard_show_goal_health_as_the_last_scan_recorded_it(
    client, viewer
):
    goal, business = red_goal()
    client.force_login(viewer)
    # Like the rest of their figures, they read what a full scan recorded.
    assert (
        f'id="map-health-goal-{goal.pk}-why"' not in client.get("/alignment/map/").content.decode()
    )
    call_command("scan_alignment", stdout=StringIO())
    map_page = client.get("/alignment/map/").content.decode()
    assert f'id="map-health-goal-{goal.pk}-why"' in map_page
    assert f'id="map-health-business_strategy-{business.pk}-why"' in map_page
    assert "Health red: 1 of 1 live project off track" in map_page
    dashboard = client.get("/alignment/").content.decode()
    assert f'id="dashboard-goal-health-{goal.pk}-why"' in dashboard
    assert "1 of 1 live project off track at the newest check-in." in dashboard
    branch = client.get(f"/alignment/map/goals/{goal.pk}/").content.decode()
    assert f'id="map-health-business_strategy-{business.pk}-why"' in branch


@pytest.fixture
def loaded(settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=StringIO())
    call_command("scan_alignment", stdout=StringIO())


def test_the_demo_has_a_red_an_amber_and_a_green_goal_each_explained(loaded):
    goals = dict(BusinessGoal.objects.values_list("title", "pk"))
    found = verdicts("goal", goals.values())
    by_title = {title: found[pk] for title, pk in goals.items()}
    assert by_title[demo.GOAL_RETENTION].health == "red"
    assert "1 open critical flag." in by_title[demo.GOAL_RETENTION].reasons
    assert by_title[demo.GOAL_REVENUE].health == "amber"
    assert by_title[demo.GOAL_REVENUE].reasons == (
        "3 of 8 live projects at risk at the newest check-in.",
    )
    assert by_title[demo.GOAL_COST_TO_SERVE].health == "green"
    assert by_title[demo.GOAL_COST_TO_SERVE].reasons == (
        "1 KPI on track.",
        "No live project under it yet; no open critical flags.",
    )
