"""No N+1: every list endpoint runs the same number of queries for 2 rows as for 50."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alignment.models import Flag
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    DepartmentFactory,
    FeatureFactory,
    FeatureLinkFactory,
    GoalFactory,
    KPICheckInFactory,
    KPIFactory,
    MetricReadingFactory,
    ProjectCheckInFactory,
    ProjectFactory,
    ProjectLinkFactory,
    ProjectSystemFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
    SystemFactory,
    UserGroupFactory,
)

pytestmark = pytest.mark.django_db


def make_goal():
    goal = GoalFactory()
    KPIFactory(goal=goal)
    BusinessStrategyFactory(goal=goal)


def make_kpi():
    KPICheckInFactory(kpi=KPIFactory())


def make_crm_strategy():
    crm = CRMStrategyFactory()
    ProjectLinkFactory(crm_strategy=crm)


def make_project():
    project = ProjectFactory()
    ProjectLinkFactory(project=project)
    SuccessMetricFactory(project=project)
    RoadmapPhaseFactory(project=project)
    ProjectCheckInFactory(project=project)
    FeatureLinkFactory(feature=FeatureFactory(project=project))


def make_feature():
    FeatureLinkFactory(feature=FeatureFactory())


def make_flag():
    project = ProjectFactory()
    now = timezone.now()
    Flag.objects.create(
        rule="project.untraced",
        severity="critical",
        subject_type="project",
        subject_id=project.pk,
        subject_label=project.title,
        project=project,
        message="Link it.",
        first_seen=now,
        last_seen=now,
    )


LISTS = {
    "/api/goals/": make_goal,
    "/api/kpis/": make_kpi,
    "/api/business-strategies/": BusinessStrategyFactory,
    "/api/crm-strategies/": make_crm_strategy,
    "/api/projects/": make_project,
    "/api/features/": make_feature,
    "/api/metrics/": SuccessMetricFactory,
    "/api/phases/": RoadmapPhaseFactory,
    "/api/project-check-ins/": ProjectCheckInFactory,
    "/api/departments/": DepartmentFactory,
    "/api/flags/": make_flag,
    "/api/user-groups/": UserGroupFactory,
    "/api/systems/": SystemFactory,
    "/api/project-systems/": ProjectSystemFactory,
    "/api/metric-readings/": MetricReadingFactory,
}


def make_webhook():
    from django.contrib.auth import get_user_model

    from webhooks.models import Webhook

    Webhook.objects.create(
        name="Alerts",
        url="https://93.184.215.14/hook",
        secret="s" * 32,
        events=["flag.opened"],
        owner=get_user_model().objects.filter(is_superuser=True).first(),
    )


# Lists only admins read.
ADMIN_LISTS = {"/api/webhooks/": make_webhook}


def test_every_list_route_has_a_query_count_case():
    from tests.api.test_permission_matrix import api_routes

    list_routes = {name for name, method in api_routes() if name.endswith("-list")}
    assert len(list_routes) == len(LISTS) + len(ADMIN_LISTS)


@pytest.mark.parametrize("url", sorted(LISTS) + sorted(ADMIN_LISTS))
def test_list_runs_the_same_queries_for_2_and_for_50_rows(
    url, api, viewer, admin_user, django_assert_num_queries
):
    client = api(admin_user if url in ADMIN_LISTS else viewer)
    make = {**LISTS, **ADMIN_LISTS}[url]
    for _ in range(2):
        make()
    with CaptureQueriesContext(connection) as small:
        response = client.get(url, {"page_size": 200})
    assert response.status_code == 200
    assert response.data["count"] >= 2
    for _ in range(48):
        make()
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(url, {"page_size": 200})
    assert response.data["count"] >= 50
    assert len(response.data["results"]) == response.data["count"]


# The same lists narrowed by their filters and sorted; every row the makers above create
# matches, so the 50 are all listed.
FILTERED = {
    "/api/goals/": {"status": "active", "priority": "2", "ordering": "-title"},
    "/api/kpis/": {"goal_status": "active", "direction": "increase", "ordering": "-due_date"},
    "/api/business-strategies/": {"status": "active", "ordering": "-crm_strategy_count"},
    "/api/crm-strategies/": {"is_anchored": "true", "ordering": "-project_count"},
    "/api/projects/": {"is_linked": "true", "status": "proposed", "ordering": "-budget_total"},
    "/api/features/": {"is_linked": "1", "status": "proposed", "ordering": "-priority"},
    "/api/metrics/": {"ordering": "-name"},
    "/api/phases/": {"kind": "phase", "ordering": "start_date"},
    "/api/project-check-ins/": {"health": "on_track", "ordering": "-checked_in_on"},
    "/api/departments/": {"is_it": "false", "ordering": "-name"},
    "/api/flags/": {"severity": "critical", "rule": "project.untraced", "ordering": "subject"},
    "/api/user-groups/": {"ordering": "-project_count"},
    "/api/systems/": {"ordering": "-name"},
    "/api/project-systems/": {"status": "designed", "ordering": "-id"},
    "/api/metric-readings/": {"ordering": "-recorded_on"},
}


def test_every_list_route_has_a_filtered_query_count_case():
    assert set(FILTERED) == set(LISTS)


@pytest.mark.parametrize("url", sorted(FILTERED))
def test_filtered_list_runs_the_same_queries_for_2_and_for_50_rows(
    url, api, viewer, django_assert_num_queries
):
    client = api(viewer)
    make = LISTS[url]
    query = {**FILTERED[url], "page_size": 200}
    for _ in range(2):
        make()
    with CaptureQueriesContext(connection) as small:
        response = client.get(url, query)
    assert response.status_code == 200, response.data
    assert response.data["count"] >= 2
    for _ in range(48):
        make()
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(url, query)
    assert response.data["count"] >= 50
