"""load_demo: the seed example, one login per role, idempotent, and misaligned exactly where
EXPECTED_FLAGS says, checked here against a plain reading of the rule semantics."""

import datetime
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.utils import timezone

from core.permissions import user_roles
from crm_alignment import demo
from goals.models import KPI, BusinessGoal, GoalStatus, KPICheckIn
from projects.models import (
    LIVE_PROJECT_STATUSES,
    CRMProject,
    Department,
    Feature,
    FeatureLink,
    FeatureStatus,
    ProjectCheckIn,
    ProjectLink,
    ProjectStatus,
    RoadmapPhase,
    SuccessMetric,
    UserGroup,
)
from strategies.models import BusinessStrategy, CRMStrategy, CRMStrategyServes, StrategyStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug_on(settings):
    """load_demo is a development command (it refuses with debug off unless --force, tested
    in tests/foundation/test_demo.py); Django's test set-up turns DEBUG off."""
    settings.DEBUG = True


MODELS = [
    get_user_model(),
    Department,
    BusinessGoal,
    KPI,
    KPICheckIn,
    BusinessStrategy,
    CRMStrategy,
    CRMStrategyServes,
    CRMProject,
    ProjectLink,
    Feature,
    FeatureLink,
    SuccessMetric,
    RoadmapPhase,
    ProjectCheckIn,
]


def snapshot() -> dict[str, list[int]]:
    return {m.__name__: sorted(m.objects.values_list("pk", flat=True)) for m in MODELS}


def _request():
    """authenticate() needs the request: the sign-in lockout counts per client address."""
    from django.test import RequestFactory

    return RequestFactory().post("/accounts/login/")


@pytest.fixture
def loaded(db):
    call_command("load_demo", stdout=StringIO())


def test_loading_the_demo_twice_changes_nothing(loaded):
    before = snapshot()
    out = StringIO()
    call_command("load_demo", stdout=out)
    assert snapshot() == before
    assert "nothing to create" in out.getvalue()


def test_the_command_prints_every_login_and_the_password(db):
    out = StringIO()
    call_command("load_demo", stdout=out)
    text = out.getvalue()
    assert demo.DEMO_PASSWORD in text
    for username in ("executive", "pm", "sponsor", "viewer", "admin"):
        assert f"  {username} " in text


@pytest.mark.parametrize(
    ("username", "role"),
    [
        ("executive", "executive"),
        ("pm", "project_manager"),
        ("sponsor", "sponsor"),
        ("viewer", "viewer"),
    ],
)
def test_each_demo_login_signs_in_with_its_role(loaded, username, role):
    user = authenticate(_request(), username=username, password=demo.DEMO_PASSWORD)
    assert user is not None
    assert user_roles(user) == frozenset({role})


def test_the_demo_admin_is_a_superuser_who_can_sign_in(loaded):
    admin = authenticate(_request(), username="admin", password=demo.DEMO_PASSWORD)
    assert admin is not None and admin.is_superuser and admin.is_staff


def test_colleagues_in_the_data_cannot_sign_in(loaded):
    assert not get_user_model().objects.get(username="lucas.meyer").has_usable_password()


def test_the_seed_example_is_there(loaded):
    goal = BusinessGoal.objects.get(title="Grow revenue while maintaining profit margin")
    assert goal.status == GoalStatus.ACTIVE
    active = goal.business_strategies.filter(status=StrategyStatus.ACTIVE)
    assert {s.scope for s in active} == {"Emerging markets", "Mature markets"}
    served = CRMStrategyServes.objects.filter(business_strategy__in=active)
    assert {s.crm_strategy.title for s in served} == {
        demo.CRM_PARTNERS,
        demo.CRM_SOLUTION_SELLING,
    }


def test_the_portfolio_is_about_a_dozen_projects_and_forty_features(loaded):
    assert 10 <= CRMProject.objects.count() <= 15
    assert 35 <= Feature.objects.count() <= 50
    assert KPI.objects.count() >= 3 and KPICheckIn.objects.count() >= 6
    assert Department.objects.filter(is_it=True).count() == 1


def test_projects_went_through_the_approval_workflow(loaded):
    for project in CRMProject.objects.filter(
        status__in=[ProjectStatus.APPROVED, ProjectStatus.ACTIVE, ProjectStatus.DONE]
    ):
        assert project.approved_at is not None and project.approved_by_id == project.sponsor_id


def test_a_rerun_keeps_healthy_active_projects_fresh_but_leaves_the_stalled_one(loaded):
    # Pretend the demo was loaded 40 days ago.
    ProjectCheckIn.objects.update(checked_in_on=timezone.localdate() - datetime.timedelta(days=40))
    call_command("load_demo", stdout=StringIO())
    today = timezone.localdate()
    active = CRMProject.objects.filter(status=ProjectStatus.ACTIVE)
    refreshed = {p.title for p in active if p.check_ins.filter(checked_in_on=today).exists()}
    assert refreshed == {p.title for p in active} - {demo.P_SERVICE_REVIEWS}


# --- a plain, loop-by-loop reading of the rules from the team brief -----------------------


def _chain_ok(crm: CRMStrategy) -> bool:
    return crm.status == StrategyStatus.ACTIVE and any(
        bs.status == StrategyStatus.ACTIVE and bs.goal.status == GoalStatus.ACTIVE
        for bs in crm.business_strategies.all()
    )


def flags_by_the_book(stalled_days: int = 30, overload: int = 5) -> set[tuple[str, str]]:
    flags: set[tuple[str, str]] = set()
    today = timezone.localdate()
    for goal in BusinessGoal.objects.filter(status=GoalStatus.ACTIVE):
        if not goal.business_strategies.filter(status=StrategyStatus.ACTIVE).exists():
            flags.add(("goal.no_strategy", goal.title))
    for bs in BusinessStrategy.objects.filter(status=StrategyStatus.ACTIVE):
        executed = CRMStrategy.objects.filter(
            status=StrategyStatus.ACTIVE,
            serves__business_strategy=bs,
            project_links__project__status=ProjectStatus.ACTIVE,
        ).exists()
        if not executed:
            flags.add(("business_strategy.unserved", bs.title))
    for crm in CRMStrategy.objects.filter(status=StrategyStatus.ACTIVE):
        if not crm.business_strategies.filter(status=StrategyStatus.ACTIVE).exists():
            flags.add(("crm_strategy.unanchored", crm.title))
    active_counts: dict[tuple[str, object], int] = {}
    for project in CRMProject.objects.filter(status__in=LIVE_PROJECT_STATUSES):
        crms = list(project.crm_strategies.all())
        if not crms:
            flags.add(("project.untraced", project.title))
        elif not any(_chain_ok(crm) for crm in crms):
            flags.add(("project.broken_chain", project.title))
        for feature in project.features.exclude(status=FeatureStatus.DROPPED):
            feature_crms = list(feature.crm_strategies.all())
            if not any(_chain_ok(crm) for crm in feature_crms):
                flags.add(("feature.untraced", feature.title))
            if any(crm not in crms for crm in feature_crms):
                flags.add(("feature.off_scope", feature.title))
        if project.sponsor_id is None:
            flags.add(("project.no_sponsor", project.title))
        if project.status in (ProjectStatus.APPROVED, ProjectStatus.ACTIVE):
            if not project.metrics.filter(baseline__isnull=False, target__isnull=False).exists():
                flags.add(("project.no_success_metrics", project.title))
            if not project.phases.exists():
                flags.add(("project.no_roadmap", project.title))
        if project.department and project.department.is_it and project.business_owner_id is None:
            flags.add(("project.it_only", project.title))
        if project.budget_technology > 0 and project.budget_capability == 0:
            flags.add(("project.technology_only", project.title))
        if project.status == ProjectStatus.ACTIVE:
            newest = project.check_ins.order_by("-checked_in_on").first()
            last = newest.checked_in_on if newest else project.start_date
            if last is None:
                last = project.created_at.date()
            if (today - last).days > stalled_days:
                flags.add(("project.stalled", project.title))
            for key in [("manager", project.manager_id), ("department", project.department_id)]:
                active_counts[key] = active_counts.get(key, 0) + 1
            for crm in crms:
                active_counts[("crm", crm.title)] = active_counts.get(("crm", crm.title), 0) + 1
    for project in CRMProject.objects.exclude(status=ProjectStatus.CANCELLED):
        go_lives = [p.start_date for p in project.phases.filter(go_live=True) if p.start_date]
        first = min(go_lives) if go_lives else None
        if project.status in (ProjectStatus.APPROVED, ProjectStatus.ACTIVE) and first:
            unplanned = [
                ps for ps in project.systems.all() if ps.status == "not_started" or not ps.owner_id
            ]
            if unplanned and (first - today).days <= 60:
                flags.add(("project.integration_unplanned", project.title))
        since = first or (project.end_date if project.status == ProjectStatus.DONE else None)
        if project.status != ProjectStatus.PROPOSED and since and (today - since).days > 90:
            readings = [
                r for m in project.metrics.all() for r in m.readings.all() if r.recorded_on > since
            ]
            if not readings:
                flags.add(("project.benefits_unreviewed", project.title))
    for (kind, subject), count in active_counts.items():
        if count > overload:
            flags.add(("portfolio.overloaded", f"{kind}:{subject}"))
    # More than 2 go-lives of live projects on one user group within 30 days.
    for group in UserGroup.objects.all():
        days = sorted(
            phase.start_date
            for project in CRMProject.objects.filter(
                status__in=LIVE_PROJECT_STATUSES, user_groups=group
            )
            for phase in project.phases.filter(go_live=True)
            if phase.start_date
        )
        if any((days[i + 2] - days[i]).days <= 30 for i in range(len(days) - 2)):
            flags.add(("portfolio.change_collision", group.name))
    return flags


def test_the_demo_is_misaligned_exactly_where_expected_flags_says(loaded):
    assert flags_by_the_book() == demo.EXPECTED_FLAGS


def test_expected_flags_name_unique_subjects(loaded):
    titles = list(Feature.objects.values_list("title", flat=True))
    assert len(titles) == len(set(titles)), "feature titles must be unique for flag labels"
    every_title = (
        set(titles)
        | set(CRMProject.objects.values_list("title", flat=True))
        | set(CRMStrategy.objects.values_list("title", flat=True))
        | set(UserGroup.objects.values_list("name", flat=True))
        | set(BusinessStrategy.objects.values_list("title", flat=True))
    )
    assert {label for _, label in demo.EXPECTED_FLAGS} <= every_title


def test_load_demo_refuses_with_debug_off_and_creates_no_login(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False

    with pytest.raises(CommandError, match="DJANGO_DEBUG off"):
        call_command("load_demo", stdout=StringIO())
    assert not get_user_model().objects.exists()


def test_load_demo_with_force_loads_with_debug_off(settings):
    settings.DEBUG = False

    call_command("load_demo", "--force", stdout=StringIO())

    assert get_user_model().objects.filter(username="admin", is_superuser=True).exists()
