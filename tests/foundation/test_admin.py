"""The Django admin: every domain model listed, saves and deletes through the services, and a
refused change comes back as a message, never a server error."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alignment.services import project_approve
from goals.models import BusinessGoal, KPICheckIn
from projects.models import CRMProject, ProjectLink, ProjectStatus
from strategies.models import CRMStrategy, StrategyStatus
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    FeatureLinkFactory,
    GoalFactory,
    KPICheckInFactory,
    KPIFactory,
    ProjectCheckInFactory,
    ProjectFactory,
    ProjectLinkFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
)

pytestmark = pytest.mark.django_db

ADMIN_MODELS = [
    "goals/businessgoal",
    "goals/kpi",
    "goals/kpicheckin",
    "strategies/businessstrategy",
    "strategies/crmstrategy",
    "projects/department",
    "projects/crmproject",
    "projects/feature",
    "projects/projectlink",
    "projects/featurelink",
    "projects/successmetric",
    "projects/roadmapphase",
    "projects/projectcheckin",
]


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("path", ADMIN_MODELS)
def test_every_domain_model_has_a_working_admin_list(admin_client, path):
    FeatureLinkFactory()
    KPICheckInFactory()
    ProjectCheckInFactory()
    SuccessMetricFactory()
    RoadmapPhaseFactory()
    response = admin_client.get(f"/admin/{path}/?q=a")
    assert response.status_code == 200


def test_the_admin_project_list_shows_budgets_with_the_currency(admin_client, settings):
    settings.CURRENCY = "NOK"
    ProjectFactory(
        budget_technology=Decimal("1500"),
        budget_people=Decimal("0.25"),
        budget_process=Decimal("0"),
        budget_training=Decimal("0"),
        budget_incentives=Decimal("0"),
    )

    html = admin_client.get(reverse("admin:projects_crmproject_changelist")).content.decode()

    assert "NOK\u00a01,500.00" in html
    assert "NOK\u00a00.25" in html


def test_the_project_change_page_shows_its_inlines(admin_client):
    link = ProjectLinkFactory()
    response = admin_client.get(reverse("admin:projects_crmproject_change", args=[link.project_id]))
    assert response.status_code == 200
    for heading in ("CRM strategies (links)", "Features", "Success metrics", "Roadmap phases"):
        assert heading.lower() in response.content.decode().lower()


def test_adding_a_goal_in_the_admin_goes_through_the_service(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:goals_businessgoal_add"),
        {
            "title": "Grow revenue",
            "description": "",
            "owner": admin_user.pk,
            "status": "active",
            "priority": 1,
            "kpis-TOTAL_FORMS": 1,
            "kpis-INITIAL_FORMS": 0,
            "kpis-0-name": "Revenue growth",
            "kpis-0-unit": "%",
            "kpis-0-direction": "increase",
            "kpis-0-baseline": "2",
            "kpis-0-target": "6",
        },
    )
    assert response.status_code == 302
    goal = BusinessGoal.objects.get(title="Grow revenue")
    assert list(goal.kpis.values_list("name", flat=True)) == ["Revenue growth"]


def test_a_goal_with_strategies_cannot_be_deleted_in_the_admin(admin_client):
    strategy = BusinessStrategyFactory(title="Partners in emerging markets")
    url = reverse("admin:goals_businessgoal_delete", args=[strategy.goal_id])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 200
    assert "Partners in emerging markets" in response.content.decode()
    assert BusinessGoal.objects.filter(pk=strategy.goal_id).exists()


def test_deleting_an_approved_project_in_the_admin_shows_the_reason(admin_client, admin_user):
    project = ProjectFactory(sponsor=admin_user)
    SuccessMetricFactory(project=project)
    RoadmapPhaseFactory(project=project)
    project_approve(project_id=project.pk, actor=admin_user)
    url = reverse("admin:projects_crmproject_delete", args=[project.pk])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert any("set its status to cancelled" in m for m in _messages(response))
    assert CRMProject.objects.filter(pk=project.pk).exists()


def test_the_admin_approve_action_approves_ready_projects_and_names_what_others_miss(
    admin_client, admin_user
):
    ready = ProjectFactory(title="Ready")
    SuccessMetricFactory(project=ready)
    RoadmapPhaseFactory(project=ready)
    unready = ProjectFactory(title="Unready", sponsor=None)
    url = reverse("admin:projects_crmproject_changelist")

    response = admin_client.post(
        url,
        {"action": "approve_projects", "_selected_action": [ready.pk, unready.pk]},
    )

    ready.refresh_from_db()
    unready.refresh_from_db()
    assert (ready.status, unready.status) == (ProjectStatus.APPROVED, ProjectStatus.PROPOSED)
    shown = _messages(response)
    assert "Approved 1 project(s)." in shown
    assert any(m.startswith("Unready: ") and "an executive sponsor is named" in m for m in shown)


def _project_form(project, **changes):
    data = {
        "title": project.title,
        "description": "",
        "status": project.status,
        "manager": project.manager_id,
        "sponsor": project.sponsor_id or "",
        "department": project.department_id or "",
        "business_owner": "",
        "budget_technology": "1000",
        "budget_people": "500",
        "budget_process": "0",
        "budget_training": "0",
        "budget_incentives": "0",
        "integration_notes": "",
    }
    for prefix in ("links", "features", "metrics", "phases", "check_ins"):
        data[f"{prefix}-TOTAL_FORMS"] = 0
        data[f"{prefix}-INITIAL_FORMS"] = 0
    data.update(changes)
    return data


def test_approving_by_editing_the_status_in_the_admin_is_refused_with_a_message(admin_client):
    project = ProjectFactory()
    url = reverse("admin:projects_crmproject_change", args=[project.pk])
    response = admin_client.post(url, _project_form(project, status=ProjectStatus.APPROVED))
    assert response.status_code == 302
    assert any("approved by its sponsor" in m for m in _messages(response))
    project.refresh_from_db()
    assert project.status == ProjectStatus.PROPOSED


def test_project_links_saved_in_the_admin_go_through_the_service(admin_client):
    project = ProjectFactory()
    crm = CRMStrategyFactory()
    retired = CRMStrategyFactory(status=StrategyStatus.RETIRED, title="Retired telesales")
    url = reverse("admin:projects_crmproject_change", args=[project.pk])
    form = _project_form(
        project,
        **{
            "links-TOTAL_FORMS": 1,
            "links-0-crm_strategy": crm.pk,
            "links-0-rationale": "Serves it through the admin.",
            "links-0-weight": "50",
        },
    )
    assert admin_client.post(url, form).status_code == 302
    assert ProjectLink.objects.get(project=project).crm_strategy == crm
    form.update({"links-TOTAL_FORMS": 2, "links-1-crm_strategy": retired.pk})
    response = admin_client.post(url, form)
    assert any("Retired telesales" in m for m in _messages(response))
    assert ProjectLink.objects.filter(project=project).count() == 1


def test_a_crm_strategy_with_projects_cannot_be_deleted_in_the_admin(admin_client):
    link = ProjectLinkFactory(project__title="Partner portal")
    url = reverse("admin:strategies_crmstrategy_delete", args=[link.crm_strategy_id])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code in (200, 302)
    assert CRMStrategy.objects.filter(pk=link.crm_strategy_id).exists()


def test_the_admin_has_no_bulk_delete_that_would_bypass_the_services(admin_client):
    GoalFactory()
    response = admin_client.get(reverse("admin:goals_businessgoal_changelist"))
    assert "delete_selected" not in response.content.decode()


def _changelist_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    "url_name",
    ["admin:projects_crmproject_changelist", "admin:projects_feature_changelist"],
)
def test_admin_project_and_feature_lists_cost_the_same_for_2_and_50_rows(
    admin_client, url_name, django_assert_num_queries
):
    crm = CRMStrategyFactory()
    for _ in range(2):
        FeatureLinkFactory(crm_strategy=crm)
    url = reverse(url_name)
    baseline = _changelist_queries(admin_client, url)
    for _ in range(48):
        FeatureLinkFactory(crm_strategy=crm)
    with django_assert_num_queries(baseline):
        admin_client.get(url)


def test_features_and_check_ins_added_inline_go_through_the_services(admin_client, admin_user):
    project = ProjectFactory()
    existing = FeatureLinkFactory(feature__project=project, feature__position=7).feature
    url = reverse("admin:projects_crmproject_change", args=[project.pk])
    form = _project_form(
        project,
        **{
            "features-TOTAL_FORMS": 2,
            "features-INITIAL_FORMS": 1,
            "features-0-id": existing.pk,
            "features-0-project": project.pk,
            "features-0-position": existing.position,
            "features-0-title": existing.title,
            "features-0-priority": existing.priority,
            "features-0-status": existing.status,
            "features-1-project": project.pk,
            "features-1-position": 0,  # the form's default, as the browser sends it
            "features-1-title": "Deal registration",
            "features-1-priority": 2,
            "features-1-status": "proposed",
            "check_ins-TOTAL_FORMS": 1,
            "check_ins-0-project": project.pk,
            "check_ins-0-checked_in_on": "2026-11-01",
            "check_ins-0-health": "at_risk",
            "check_ins-0-summary": "Waiting for partner data.",
        },
    )
    response = admin_client.post(url, form)
    assert response.status_code == 302
    added = project.features.get(title="Deal registration")
    assert added.position == 8  # appended after the last one by feature_create
    check_in = project.check_ins.get()
    assert (check_in.health, check_in.author) == ("at_risk", admin_user)


def test_a_goal_whose_kpis_have_readings_cannot_be_deleted_in_the_admin(admin_client):
    kpi = KPIFactory(name="Net revenue retention")
    KPICheckInFactory(kpi=kpi)
    url = reverse("admin:goals_businessgoal_delete", args=[kpi.goal_id])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert any("KPIs with readings: Net revenue retention" in m for m in _messages(response))
    assert KPICheckIn.objects.filter(kpi=kpi).exists()
