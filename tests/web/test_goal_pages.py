"""Goal pages: list, detail with KPIs and their trend, create/edit/retire, KPIs and readings."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from goals.models import KPI, BusinessGoal, GoalStatus
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    GoalFactory,
    KPICheckInFactory,
    KPIFactory,
)

pytestmark = pytest.mark.django_db

READERS = ["executive", "pm", "sponsor", "viewer", "admin_user"]
NOT_EXECUTIVES = ["pm", "sponsor", "viewer"]


@pytest.mark.parametrize("role", READERS)
def test_every_role_reads_the_goal_list_and_a_goal(request, as_user, role):
    goal = GoalFactory(title="Grow revenue")
    client = as_user(request.getfixturevalue(role))

    assert "Grow revenue" in client.get(reverse("goals:list")).content.decode()
    assert client.get(reverse("goals:detail", args=[goal.pk])).status_code == 200


def test_a_user_without_a_role_finds_no_goals(as_user, nobody):
    goal = GoalFactory()
    client = as_user(nobody)

    assert client.get(reverse("goals:list")).status_code == 404
    assert client.get(reverse("goals:detail", args=[goal.pk])).status_code == 404


def test_a_missing_goal_is_not_found(as_user, viewer):
    assert as_user(viewer).get(reverse("goals:detail", args=[99999])).status_code == 404


def test_the_goal_list_filters_by_status_and_sorts(as_user, viewer):
    GoalFactory(title="Alpha active", status=GoalStatus.ACTIVE)
    GoalFactory(title="Beta retired", status=GoalStatus.RETIRED)
    GoalFactory(title="Gamma active", status=GoalStatus.ACTIVE)
    client = as_user(viewer)

    filtered = client.get(reverse("goals:list"), {"status": "active"}).content.decode()
    by_title_desc = client.get(reverse("goals:list"), {"ordering": "-title"}).content.decode()

    assert "Alpha active" in filtered and "Beta retired" not in filtered
    assert by_title_desc.index("Gamma active") < by_title_desc.index("Alpha active")


def test_the_goal_list_ignores_an_unknown_sort_or_status(as_user, viewer):
    GoalFactory(title="Still listed")

    response = as_user(viewer).get(reverse("goals:list"), {"sort": "password", "status": "x"})

    assert response.status_code == 200
    assert "Still listed" in response.content.decode()


def test_the_goal_list_makes_the_same_queries_for_2_and_50_goals(
    as_user, viewer, queries_for, django_assert_num_queries
):
    client = as_user(viewer)
    for goal in GoalFactory.create_batch(2):
        BusinessStrategyFactory(goal=goal)
        KPIFactory(goal=goal)
    baseline = queries_for(reverse("goals:list"))
    for goal in GoalFactory.create_batch(48):
        BusinessStrategyFactory(goal=goal)
        KPIFactory(goal=goal)

    with django_assert_num_queries(baseline):
        client.get(reverse("goals:list"))


def test_a_goal_page_shows_kpis_with_a_trend_line_and_the_strategies_under_it(as_user, viewer):
    goal = GoalFactory(title="Grow revenue")
    kpi = KPIFactory(goal=goal, name="Revenue growth", baseline=Decimal("2"), target=Decimal("6"))
    for day, value in [(1, "2.5"), (2, "3.1"), (3, "3.8")]:
        KPICheckInFactory(kpi=kpi, value=Decimal(value), recorded_on=datetime.date(2026, 1, day))
    strategy = BusinessStrategyFactory(goal=goal, title="Emerging markets via partners")
    CRMStrategyFactory(title="Enable local partners", serves=[strategy])

    html = as_user(viewer).get(reverse("goals:detail", args=[goal.pk])).content.decode()

    assert "Revenue growth" in html
    assert '<svg class="sparkline"' in html
    assert "<polyline points=" in html
    assert "Trend of 3 readings" in html
    assert "Emerging markets via partners" in html
    assert "Enable local partners" in html


def test_a_goal_page_makes_the_same_queries_for_2_and_50_kpis(
    as_user, viewer, queries_for, django_assert_num_queries
):
    goal = GoalFactory()
    client = as_user(viewer)
    for kpi in KPIFactory.create_batch(2, goal=goal):
        KPICheckInFactory(kpi=kpi)
        BusinessStrategyFactory(goal=goal)
    url = reverse("goals:detail", args=[goal.pk])
    baseline = queries_for(url)
    for kpi in KPIFactory.create_batch(48, goal=goal):
        KPICheckInFactory(kpi=kpi)
        BusinessStrategyFactory(goal=goal)

    with django_assert_num_queries(baseline):
        client.get(url)


def test_a_viewer_sees_no_edit_controls_on_a_goal(as_user, viewer):
    goal = GoalFactory()

    html = as_user(viewer).get(reverse("goals:detail", args=[goal.pk])).content.decode()

    assert reverse("goals:edit", args=[goal.pk]) not in html
    assert "Add KPI" not in html
    assert "Record reading" not in html


# --- executives write -------------------------------------------------------------------


def test_an_executive_creates_a_goal(as_user, executive):
    response = as_user(executive).post(
        reverse("goals:create"),
        {"title": "Grow revenue", "status": "active", "priority": "1", "description": "Why."},
    )

    goal = BusinessGoal.objects.get(title="Grow revenue")
    assert response.status_code == 302
    assert response.url == reverse("goals:detail", args=[goal.pk])
    assert goal.owner == executive
    assert goal.status == GoalStatus.ACTIVE


def test_a_goal_without_a_title_is_refused_naming_the_field(as_user, executive):
    response = as_user(executive).post(
        reverse("goals:create"), {"status": "active", "priority": "2"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Title: This field is required." in html
    assert not BusinessGoal.objects.exists()


def test_a_field_error_is_tied_to_its_input_for_screen_readers(as_user, executive):
    import re

    html = (
        as_user(executive)
        .post(reverse("goals:create"), {"status": "active", "priority": "2"})
        .content.decode()
    )

    title_input = re.search(r"<input[^>]*name=\"title\"[^>]*>", html).group(0)
    described_by = re.search(r'aria-describedby="([^"]+)"', title_input).group(1).split()
    error_ids = [ref for ref in described_by if ref.endswith("_error")]
    assert 'aria-invalid="true"' in title_input
    assert error_ids and all(f'id="{ref}"' in html for ref in error_ids)


def test_a_goal_horizon_ending_before_it_starts_is_refused(as_user, executive):
    response = as_user(executive).post(
        reverse("goals:create"),
        {
            "title": "Backwards",
            "status": "draft",
            "priority": "2",
            "horizon_start": "2027-01-01",
            "horizon_end": "2026-01-01",
        },
    )

    assert "The horizon must end on or after its start." in response.content.decode()
    assert not BusinessGoal.objects.exists()


def test_an_executive_edits_a_goal_and_keeps_its_owner(as_user, executive):
    goal = GoalFactory(title="Old title", owner=executive)

    as_user(executive).post(
        reverse("goals:edit", args=[goal.pk]),
        {
            "title": "New title",
            "status": "active",
            "priority": "2",
            "owner": executive.pk,
            "version": goal.version,
        },
    )

    goal.refresh_from_db()
    assert goal.title == "New title"
    assert goal.owner == executive


def test_an_existing_goal_must_keep_an_owner(as_user, executive):
    goal = GoalFactory(title="Owned", owner=executive)

    response = as_user(executive).post(
        reverse("goals:edit", args=[goal.pk]),
        {"title": "Owned", "status": "active", "priority": "2", "owner": ""},
    )

    assert "Owner: This field is required." in response.content.decode()
    goal.refresh_from_db()
    assert goal.owner == executive


def test_an_executive_retires_a_goal(as_user, executive):
    goal = GoalFactory()

    response = as_user(executive).post(reverse("goals:retire", args=[goal.pk]))

    goal.refresh_from_db()
    assert response.status_code == 302
    assert goal.status == GoalStatus.RETIRED


def test_retiring_needs_a_post(as_user, executive):
    goal = GoalFactory()

    assert as_user(executive).get(reverse("goals:retire", args=[goal.pk])).status_code == 405


@pytest.mark.parametrize("role", NOT_EXECUTIVES)
def test_only_executives_reach_goal_forms(request, as_user, role):
    goal = GoalFactory()
    kpi = KPIFactory(goal=goal)
    client = as_user(request.getfixturevalue(role))

    for url in [
        reverse("goals:create"),
        reverse("goals:edit", args=[goal.pk]),
        reverse("goals:kpi_create", args=[goal.pk]),
        reverse("goals:kpi_edit", args=[kpi.pk]),
        reverse("goals:kpi_check_in", args=[kpi.pk]),
    ]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Only executives" in response.content.decode()
    assert client.post(reverse("goals:retire", args=[goal.pk])).status_code == 403
    assert client.post(reverse("goals:kpi_delete", args=[kpi.pk])).status_code == 403
    goal.refresh_from_db()
    assert goal.status == GoalStatus.ACTIVE


def test_a_user_without_a_role_gets_404_on_goal_forms(as_user, nobody):
    goal = GoalFactory()

    assert as_user(nobody).get(reverse("goals:edit", args=[goal.pk])).status_code == 404
    assert as_user(nobody).get(reverse("goals:create")).status_code == 404


def test_an_executive_adds_a_kpi(as_user, executive):
    goal = GoalFactory()

    response = as_user(executive).post(
        reverse("goals:kpi_create", args=[goal.pk]),
        {
            "name": "Gross margin",
            "unit": "%",
            "baseline": "31",
            "target": "33",
            "direction": "increase",
        },
    )

    assert response.status_code == 302
    assert goal.kpis.get().name == "Gross margin"


def test_a_kpi_whose_target_does_not_beat_its_baseline_is_refused(as_user, executive):
    goal = GoalFactory()

    response = as_user(executive).post(
        reverse("goals:kpi_create", args=[goal.pk]),
        {"name": "Churn", "baseline": "10", "target": "12", "direction": "decrease"},
    )

    assert "Target: Lower is better, so the target must be below the baseline." in (
        response.content.decode()
    )
    assert not KPI.objects.exists()


def test_recording_a_reading_moves_the_kpis_current_value(as_user, executive):
    kpi = KPIFactory(baseline=Decimal("10"), target=Decimal("20"))

    response = as_user(executive).post(
        reverse("goals:kpi_check_in", args=[kpi.pk]),
        {"reading-value": "14.5", "reading-recorded_on": "2026-03-01", "reading-note": "Q1"},
    )

    kpi.refresh_from_db()
    assert response.status_code == 302
    assert kpi.current == Decimal("14.5")
    assert kpi.check_ins.get().note == "Q1"


def test_a_reading_without_a_date_is_refused_naming_the_field(as_user, executive):
    kpi = KPIFactory()

    response = as_user(executive).post(
        reverse("goals:kpi_check_in", args=[kpi.pk]), {"reading-value": "14"}
    )

    assert "Date: This field is required." in response.content.decode()
    assert not kpi.check_ins.exists()


def test_an_executive_deletes_a_kpi(as_user, executive):
    kpi = KPIFactory()

    as_user(executive).post(reverse("goals:kpi_delete", args=[kpi.pk]))

    assert not KPI.objects.exists()
