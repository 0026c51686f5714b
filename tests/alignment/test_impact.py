"""The impact preview over the demo data: for every kind of change that can break (or mend)
chains, preview → apply → full scan, and the preview's lists are exactly the flags the scan
opened and resolved and the projects and features that lost (or regained) their chain. The
preview itself writes nothing and queues nothing."""

from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from alignment import engine
from alignment.models import UNRESOLVED_STATES, Flag, FlagState, Scan
from crm_alignment.demo import CRM_TELESALES
from goals import services as goal_services
from goals.models import BusinessGoal
from projects.models import LIVE_PROJECT_STATUSES, CRMProject, Feature, FeatureStatus
from projects.trace import feature_traceable_exists, project_traceable_exists
from strategies import services as strategy_services
from strategies.models import BusinessStrategy, CRMStrategy
from tests.tokens import token_for

pytestmark = pytest.mark.django_db

BS_PARTNERS = "Win share in emerging markets through local partners"
BS_TELESALES = "Grow mid-market revenue through direct telesales"
GOAL_REVENUE = "Grow revenue while maintaining profit margin"
CRM_PARTNERS = "Recruit, develop and enable local partners"
CRM_ACCOUNTS = "End-to-end solution selling to the largest enterprise customers"
P_PORTAL = "Partner portal for emerging markets"
P_UNIFIED = "Unified customer view across sales, service and support"


@pytest.fixture
def demo(settings):
    settings.DEBUG = True  # load_demo is a development command
    call_command("load_demo", stdout=StringIO())
    engine.scan_full()  # the flags in step with the data, as a running deployment keeps them


def user(name):
    return get_user_model().objects.get(username=name)


def client(name):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user(name))}")
    return api


def traced():
    """Live projects and features that trace, as the rules define it."""
    projects = set(
        CRMProject.objects.filter(status__in=LIVE_PROJECT_STATUSES)
        .filter(project_traceable_exists())
        .values_list("pk", flat=True)
    )
    features = set(
        Feature.objects.filter(project__status__in=LIVE_PROJECT_STATUSES)
        .exclude(status=FeatureStatus.DROPPED)
        .filter(feature_traceable_exists())
        .values_list("pk", flat=True)
    )
    return projects, features


def live():
    projects = set(
        CRMProject.objects.filter(status__in=LIVE_PROJECT_STATUSES).values_list("pk", flat=True)
    )
    features = set(
        Feature.objects.filter(project__status__in=LIVE_PROJECT_STATUSES)
        .exclude(status=FeatureStatus.DROPPED)
        .values_list("pk", flat=True)
    )
    return projects, features


def row_counts():
    tables = connection.introspection.django_table_names(only_existing=True)
    with connection.cursor() as cursor:
        counts = {}
        for table in sorted(tables):
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def versions():
    """Every versioned row's version, and every status: an update the preview leaked shows."""
    return {
        model.__name__: set(model.objects.values_list("pk", "version", "status"))
        for model in (BusinessGoal, BusinessStrategy, CRMStrategy, CRMProject)
    }


def keys(flags):
    return {(f["rule"], f["subject_type"], f["subject_id"]) for f in flags}


def preview_apply_scan(path, body, apply, django_capture_on_commit_callbacks, as_user):
    """Preview the change, check it wrote and queued nothing, apply it, scan, and compare."""
    api = client(as_user)  # its token is the test's own row
    before_counts, before_versions = row_counts(), versions()
    scans = Scan.objects.count()
    with django_capture_on_commit_callbacks() as callbacks:
        answer = api.post(path, body, format="json")
    assert answer.status_code == 200, answer.json()
    impact = answer.json()
    # Nothing written, nothing queued (a re-check or full scan is queued on commit only).
    assert callbacks == []
    assert row_counts() == before_counts
    assert versions() == before_versions
    assert Scan.objects.count() == scans

    traced_before, (live_before_p, live_before_f) = traced(), live()
    flags_before = set(
        Flag.objects.filter(state__in=UNRESOLVED_STATES).values_list(
            "rule", "subject_type", "subject_id"
        )
    )
    newest = Flag.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    apply()
    engine.scan_full()
    opened = set(
        Flag.objects.filter(pk__gt=newest, state=FlagState.OPEN).values_list(
            "rule", "subject_type", "subject_id"
        )
    )
    flags_after = set(
        Flag.objects.filter(state__in=UNRESOLVED_STATES).values_list(
            "rule", "subject_type", "subject_id"
        )
    )
    resolved = flags_before - flags_after
    (traced_p, traced_f), (live_p, live_f) = traced(), live()
    lost_p = {pk for pk in traced_before[0] if pk in live_p and pk not in traced_p}
    lost_f = {pk for pk in traced_before[1] if pk in live_f and pk not in traced_f}
    again_p = {pk for pk in traced_p if pk in live_before_p and pk not in traced_before[0]}
    again_f = {pk for pk in traced_f if pk in live_before_f and pk not in traced_before[1]}

    assert keys(impact["flags_opening"]) == opened
    assert keys(impact["flags_closing"]) == resolved
    assert set(impact["projects_losing_chain"]) == lost_p
    assert set(impact["features_losing_chain"]) == lost_f
    assert set(impact["projects_tracing_again"]) == again_p
    assert set(impact["features_tracing_again"]) == again_f
    budget = sum((p.budget_total for p in CRMProject.objects.filter(pk__in=lost_p)), Decimal(0))
    assert Decimal(impact["budget_losing_chain"]) == budget
    assert impact["currency"]
    return impact


def test_retiring_a_business_strategy_previews_its_three_projects_and_710000(
    demo, django_capture_on_commit_callbacks
):
    strategy = BusinessStrategy.objects.get(title=BS_PARTNERS)
    impact = preview_apply_scan(
        f"/api/business-strategies/{strategy.pk}/impact/",
        {"status": "retired"},
        lambda: strategy_services.business_strategy_update(
            actor=user("executive"),
            business_strategy_id=strategy.pk,
            changes={"status": "retired"},
        ),
        django_capture_on_commit_callbacks,
        "executive",
    )
    assert len(impact["projects_losing_chain"]) == 3
    assert impact["budget_losing_chain"] == "710000.00"
    assert ("crm_strategy.unanchored", "crm_strategy") in {
        (f["rule"], f["subject_type"]) for f in impact["flags_opening"]
    }
    assert impact["features_losing_chain"]


def test_retiring_a_goal(demo, django_capture_on_commit_callbacks):
    goal = BusinessGoal.objects.get(title=GOAL_REVENUE)
    impact = preview_apply_scan(
        f"/api/goals/{goal.pk}/impact/",
        {"status": "retired"},
        lambda: goal_services.goal_update(
            actor=user("executive"), goal_id=goal.pk, changes={"status": "retired"}
        ),
        django_capture_on_commit_callbacks,
        "executive",
    )
    assert len(impact["projects_losing_chain"]) >= 3
    # The goal's own "no active strategy" check stops with it: nothing about it opens.
    assert not [f for f in impact["flags_opening"] if f["subject_type"] == "goal"]


def test_retiring_a_crm_strategy(demo, django_capture_on_commit_callbacks):
    crm = CRMStrategy.objects.get(title=CRM_ACCOUNTS)
    impact = preview_apply_scan(
        f"/api/crm-strategies/{crm.pk}/impact/",
        {"status": "retired"},
        lambda: strategy_services.crm_strategy_update(
            actor=user("executive"), crm_strategy_id=crm.pk, changes={"status": "retired"}
        ),
        django_capture_on_commit_callbacks,
        "executive",
    )
    assert impact["projects_losing_chain"]
    assert "business_strategy.unserved" in {f["rule"] for f in impact["flags_opening"]}


def test_removing_what_a_crm_strategy_serves(demo, django_capture_on_commit_callbacks):
    crm = CRMStrategy.objects.get(title=CRM_PARTNERS)
    impact = preview_apply_scan(
        f"/api/crm-strategies/{crm.pk}/impact/",
        {"serves": []},
        lambda: strategy_services.crm_strategy_update(
            actor=user("executive"),
            crm_strategy_id=crm.pk,
            changes={"business_strategies": []},
        ),
        django_capture_on_commit_callbacks,
        "executive",
    )
    assert len(impact["projects_losing_chain"]) == 3


def test_unlinking_a_project(demo, django_capture_on_commit_callbacks):
    from projects import services as project_services

    project = CRMProject.objects.get(title=P_UNIFIED)
    impact = preview_apply_scan(
        f"/api/projects/{project.pk}/impact/",
        {"crm_strategies": []},
        lambda: project_services.project_set_links(
            actor=user("pm"), project_id=project.pk, links=[]
        ),
        django_capture_on_commit_callbacks,
        "pm",
    )
    assert impact["projects_losing_chain"] == [project.pk]
    assert ("project.untraced", "project", project.pk) in keys(impact["flags_opening"])


def test_cancelling_a_project(demo, django_capture_on_commit_callbacks):
    from projects import services as project_services

    project = CRMProject.objects.get(title=P_PORTAL)
    impact = preview_apply_scan(
        f"/api/projects/{project.pk}/impact/",
        {"status": "cancelled"},
        lambda: project_services.project_update(
            actor=user("pm"), project_id=project.pk, changes={"status": "cancelled"}
        ),
        django_capture_on_commit_callbacks,
        "pm",
    )
    # A cancelled project stops rather than loses its chain; its own flags close.
    assert impact["projects_losing_chain"] == []


def test_deleting_childless_goal_and_strategies(demo, django_capture_on_commit_callbacks):
    executive = user("executive")
    goal = goal_services.goal_create(actor=executive, title="Enter a new region", status="active")
    engine.scan_full()  # "goal.no_strategy" opens for it
    impact = preview_apply_scan(
        f"/api/goals/{goal.pk}/impact/",
        {"delete": True},
        lambda: goal_services.goal_delete(actor=executive, goal_id=goal.pk),
        django_capture_on_commit_callbacks,
        "executive",
    )
    assert keys(impact["flags_closing"]) == {("goal.no_strategy", "goal", goal.pk)}

    revenue = BusinessGoal.objects.get(title=GOAL_REVENUE)
    business = strategy_services.business_strategy_create(
        actor=executive, goal_id=revenue.pk, title="Cross-sell", status="active"
    )
    crm = strategy_services.crm_strategy_create(
        actor=executive, title="Cross-sell plays", status="active", business_strategies=[]
    )
    engine.scan_full()
    impact = preview_apply_scan(
        f"/api/crm-strategies/{crm.pk}/impact/",
        {"delete": True},
        lambda: strategy_services.crm_strategy_delete(actor=executive, crm_strategy_id=crm.pk),
        django_capture_on_commit_callbacks,
        "executive",
    )
    assert ("crm_strategy.unanchored", "crm_strategy", crm.pk) in keys(impact["flags_closing"])
    preview_apply_scan(
        f"/api/business-strategies/{business.pk}/impact/",
        {"delete": True},
        lambda: strategy_services.business_strategy_delete(
            actor=executive, business_strategy_id=business.pk
        ),
        django_capture_on_commit_callbacks,
        "executive",
    )


def test_reactivating_the_retired_strategy_previews_what_traces_again(
    demo, django_capture_on_commit_callbacks
):
    strategy = BusinessStrategy.objects.get(title=BS_TELESALES)
    impact = preview_apply_scan(
        f"/api/business-strategies/{strategy.pk}/impact/",
        {"status": "active"},
        lambda: strategy_services.business_strategy_reactivate(
            actor=user("executive"), business_strategy_id=strategy.pk
        ),
        django_capture_on_commit_callbacks,
        "executive",
    )
    crm = CRMStrategy.objects.get(title=CRM_TELESALES)
    closing = keys(impact["flags_closing"])
    assert ("crm_strategy.unanchored", "crm_strategy", crm.pk) in closing
    assert {rule for rule, _t, _i in closing} >= {"project.broken_chain", "feature.untraced"}
    assert impact["projects_losing_chain"] == []
