"""Every rule: a case that fires, one that does not, and the boundary."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from alignment import engine
from alignment.models import UNRESOLVED_STATES, Flag, RuleSetting
from alignment.rules import RULES, rule_for
from goals.models import GoalStatus
from projects.models import FeatureStatus, ProjectStatus
from strategies.models import StrategyStatus
from strategies.selectors import crm_strategies_with_trace
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    DepartmentFactory,
    FeatureFactory,
    FeatureLinkFactory,
    GoalFactory,
    ProjectCheckInFactory,
    ProjectFactory,
    ProjectLinkFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
    UserFactory,
    rule_settings,
)

from .conftest import all_unresolved, flagged, healthy_project, scan, today

pytestmark = pytest.mark.django_db

DESIGN_CODES = {
    "project.untraced",
    "project.broken_chain",
    "feature.untraced",
    "feature.off_scope",
    "crm_strategy.unanchored",
    "business_strategy.unserved",
    "goal.no_strategy",
    "project.no_sponsor",
    "project.no_success_metrics",
    "project.no_roadmap",
    "project.it_only",
    "project.technology_only",
    "project.stalled",
    "portfolio.overloaded",
    "portfolio.change_collision",
    "project.integration_unplanned",
    "project.benefits_unreviewed",
}


def test_the_catalogue_has_exactly_the_designed_rules_with_advice():
    assert set(RULES) == DESIGN_CODES
    for rule in RULES.values():
        assert rule.advice and rule.why and rule.title
        assert rule.default_severity in {"info", "warning", "critical"}
    assert rule_for("project.stalled").threshold_default == 30
    assert rule_for("portfolio.overloaded").threshold_default == 5


def test_a_healthy_portfolio_raises_no_flag(healthy):
    FeatureLinkFactory(
        feature=FeatureFactory(project=healthy), crm_strategy=healthy.links.get().crm_strategy
    )
    scan()
    assert all_unresolved() == set()


# --- project.untraced / project.broken_chain ------------------------------------------


def test_a_live_project_without_links_is_untraced(db):
    ProjectFactory(title="Loose", status=ProjectStatus.PROPOSED)
    scan()
    assert flagged("project.untraced") == {"Loose"}
    assert flagged("project.broken_chain") == set()


@pytest.mark.parametrize("status", [ProjectStatus.DONE, ProjectStatus.CANCELLED])
def test_done_and_cancelled_projects_are_never_flagged(db, status):
    project = ProjectFactory(title="History", status=status, sponsor=None)
    FeatureFactory(project=project)
    scan()
    assert all_unresolved() == set()


def test_a_linked_traceable_project_is_neither_untraced_nor_broken(healthy):
    scan()
    assert flagged("project.untraced") == flagged("project.broken_chain") == set()


@pytest.mark.parametrize(
    "break_it",
    [
        lambda crm, bs, goal: setattr(goal, "status", GoalStatus.RETIRED) or goal.save(),
        lambda crm, bs, goal: setattr(goal, "status", GoalStatus.DRAFT) or goal.save(),
        lambda crm, bs, goal: setattr(bs, "status", StrategyStatus.RETIRED) or bs.save(),
        lambda crm, bs, goal: setattr(bs, "status", StrategyStatus.DRAFT) or bs.save(),
        lambda crm, bs, goal: setattr(crm, "status", StrategyStatus.DRAFT) or crm.save(),
        lambda crm, bs, goal: setattr(crm, "status", StrategyStatus.RETIRED) or crm.save(),
    ],
    ids=[
        "retired goal",
        "draft goal",
        "retired business strategy",
        "draft business strategy",
        "draft CRM strategy",
        "retired CRM strategy",
    ],
)
def test_an_inactive_item_on_the_path_breaks_the_chain(db, break_it):
    crm = CRMStrategyFactory()
    bs = crm.business_strategies.get()
    project = healthy_project(crm_strategy=crm, title="Broken")
    break_it(crm, bs, bs.goal)
    scan()
    assert flagged("project.broken_chain") == {project.title}
    assert flagged("project.untraced") == set()


def test_one_traceable_link_among_broken_ones_keeps_the_chain(db):
    project = healthy_project(title="Mixed")
    ProjectLinkFactory(project=project, crm_strategy=CRMStrategyFactory(serves=[]))
    scan()
    assert flagged("project.broken_chain") == set()


# --- feature.untraced / feature.off_scope ----------------------------------------------


def test_a_feature_without_links_is_untraced(healthy):
    FeatureFactory(project=healthy, title="Orphan")
    scan()
    assert flagged("feature.untraced") == {"Orphan"}


def test_a_feature_linked_only_to_a_retired_chain_is_untraced(healthy):
    crm = healthy.links.get().crm_strategy
    feature = FeatureFactory(project=healthy, title="Old")
    FeatureLinkFactory(feature=feature, crm_strategy=crm)
    goal = crm.business_strategies.get().goal
    goal.status = GoalStatus.RETIRED
    goal.save()
    scan()
    assert flagged("feature.untraced") == {"Old"}


def test_dropped_features_and_features_of_closed_projects_are_not_flagged(healthy):
    FeatureFactory(project=healthy, status=FeatureStatus.DROPPED)
    FeatureFactory(project=ProjectFactory(status=ProjectStatus.DONE))
    scan()
    assert flagged("feature.untraced") == set()


def test_a_feature_serving_a_strategy_its_project_does_not_is_off_scope(healthy):
    feature = FeatureFactory(project=healthy, title="Creep")
    FeatureLinkFactory(feature=feature, crm_strategy=CRMStrategyFactory())
    scan()
    assert flagged("feature.off_scope") == {"Creep"}
    assert flagged("feature.untraced") == set()


def test_a_feature_with_one_in_scope_and_one_off_scope_link_is_off_scope(healthy):
    feature = FeatureFactory(project=healthy, title="Half creep")
    FeatureLinkFactory(feature=feature, crm_strategy=healthy.links.get().crm_strategy)
    FeatureLinkFactory(feature=feature, crm_strategy=CRMStrategyFactory())
    scan()
    assert flagged("feature.off_scope") == {"Half creep"}


def test_a_feature_serving_its_projects_strategy_is_in_scope(healthy):
    feature = FeatureFactory(project=healthy)
    FeatureLinkFactory(feature=feature, crm_strategy=healthy.links.get().crm_strategy)
    scan()
    assert flagged("feature.off_scope") == set()


# --- crm_strategy.unanchored / business_strategy.unserved / goal.no_strategy --------------


def test_an_active_crm_strategy_serving_nothing_active_is_unanchored(db):
    CRMStrategyFactory(title="Tool", serves=[])
    CRMStrategyFactory(
        title="Served retired", serves=[BusinessStrategyFactory(status=StrategyStatus.RETIRED)]
    )
    CRMStrategyFactory(title="Draft tool", serves=[], status=StrategyStatus.DRAFT)
    CRMStrategyFactory(title="Anchored")
    scan()
    assert flagged("crm_strategy.unanchored") == {"Tool", "Served retired"}


def test_a_crm_strategy_serving_only_strategies_of_inactive_goals_is_unanchored(db):
    """Anchored means one thing everywhere: the rule and the strategy pages agree that an
    active business strategy under a retired or draft goal anchors nothing."""
    retired = BusinessStrategyFactory(goal=GoalFactory(status=GoalStatus.RETIRED))
    draft = BusinessStrategyFactory(goal=GoalFactory(status=GoalStatus.DRAFT))
    crm = CRMStrategyFactory(title="Yesterday's goals", serves=[retired, draft])
    scan()
    assert "Yesterday's goals" in flagged("crm_strategy.unanchored")
    assert crm_strategies_with_trace().get(pk=crm.pk).is_anchored is False


def test_a_business_strategy_without_an_active_project_is_unserved(db):
    unserved = BusinessStrategyFactory(title="Idle")
    CRMStrategyFactory(serves=[unserved])  # a CRM strategy, but no active project on it
    proposed_only = BusinessStrategyFactory(title="Planned")
    ProjectLinkFactory(
        project=ProjectFactory(status=ProjectStatus.APPROVED),
        crm_strategy=CRMStrategyFactory(serves=[proposed_only]),
    )
    executed = BusinessStrategyFactory(title="Executed")
    healthy_project(crm_strategy=CRMStrategyFactory(serves=[executed]))
    BusinessStrategyFactory(title="Retired", status=StrategyStatus.RETIRED)
    scan()
    assert flagged("business_strategy.unserved") == {"Idle", "Planned"}


def test_an_active_project_on_a_draft_crm_strategy_does_not_serve(db):
    bs = BusinessStrategyFactory(title="Drafty")
    healthy_project(crm_strategy=CRMStrategyFactory(serves=[bs], status=StrategyStatus.DRAFT))
    scan()
    assert "Drafty" in flagged("business_strategy.unserved")


def test_an_active_goal_without_an_active_business_strategy_has_no_strategy(db):
    GoalFactory(title="Lonely")
    BusinessStrategyFactory(goal=GoalFactory(title="Retired only"), status=StrategyStatus.RETIRED)
    BusinessStrategyFactory(goal=GoalFactory(title="Has one"))
    GoalFactory(title="Draft", status=GoalStatus.DRAFT)
    scan()
    assert flagged("goal.no_strategy") == {"Lonely", "Retired only"}


# --- project health -----------------------------------------------------------------------


def test_a_live_project_without_a_sponsor_is_flagged(db):
    healthy_project(title="Nobody", sponsor=None)
    healthy_project(title="Somebody")
    scan()
    assert flagged("project.no_sponsor") == {"Nobody"}


@pytest.mark.parametrize("status", [ProjectStatus.APPROVED, ProjectStatus.ACTIVE])
def test_a_committed_project_needs_a_metric_with_baseline_and_target(db, status):
    project = ProjectFactory(title="Unmeasured", status=status)
    SuccessMetricFactory(project=project, target=None)
    ProjectFactory(title="Just proposed", status=ProjectStatus.PROPOSED)
    measured = ProjectFactory(title="Measured", status=status)
    SuccessMetricFactory(project=measured)
    scan()
    assert flagged("project.no_success_metrics") == {"Unmeasured"}


def test_a_committed_project_needs_a_roadmap(db):
    ProjectFactory(title="No plan", status=ProjectStatus.APPROVED)
    ProjectFactory(title="Proposal", status=ProjectStatus.PROPOSED)
    RoadmapPhaseFactory(project=ProjectFactory(title="Planned", status=ProjectStatus.ACTIVE))
    scan()
    assert flagged("project.no_roadmap") == {"No plan"}


def test_an_it_owned_project_needs_a_business_owner(db):
    it = DepartmentFactory(name="IT", is_it=True)
    healthy_project(title="IT alone", department=it)
    healthy_project(title="IT with owner", department=it, business_owner=UserFactory())
    healthy_project(title="Sales", department=DepartmentFactory(name="Sales"))
    scan()
    assert flagged("project.it_only") == {"IT alone"}


def test_a_technology_only_budget_is_flagged(db):
    healthy_project(title="Tech", budget_technology=Decimal("900"), budget_people=0)
    healthy_project(
        title="Training too",
        budget_technology=Decimal("900"),
        budget_people=0,
        budget_training=Decimal("1"),
    )
    healthy_project(title="No budget", budget_technology=0, budget_people=0)
    scan()
    assert flagged("project.technology_only") == {"Tech"}


@pytest.mark.parametrize(
    "other_money", ["budget_people", "budget_process", "budget_training", "budget_incentives"]
)
def test_any_money_for_people_process_training_or_incentives_is_not_technology_only(
    db, other_money
):
    money = dict.fromkeys(
        ["budget_people", "budget_process", "budget_training", "budget_incentives"], 0
    )
    healthy_project(
        title="Balanced", budget_technology=Decimal("900"), **{**money, other_money: Decimal("1")}
    )
    healthy_project(title="Tech", budget_technology=Decimal("900"), **money)
    scan()
    assert flagged("project.technology_only") == {"Tech"}


def _stalled_project(title, days_ago):
    project = healthy_project(title=title, start_date=today() - datetime.timedelta(days=400))
    project.check_ins.all().delete()
    ProjectCheckInFactory(
        project=project, checked_in_on=today() - datetime.timedelta(days=days_ago)
    )
    return project


def test_an_active_project_is_stalled_only_after_more_than_the_threshold(db):
    _stalled_project("Exactly thirty", 30)
    _stalled_project("Thirty-one", 31)
    _stalled_project("Fresh", 2)
    scan()
    assert flagged("project.stalled") == {"Thirty-one"}


def test_stalled_falls_back_to_the_start_date_then_the_creation_date(db):
    old_start = healthy_project(
        title="Started long ago", start_date=today() - datetime.timedelta(days=31)
    )
    old_start.check_ins.all().delete()
    new_start = healthy_project(title="Just started", start_date=today())
    new_start.check_ins.all().delete()
    undated = healthy_project(title="Undated", start_date=None)
    undated.check_ins.all().delete()
    scan()
    assert flagged("project.stalled") == {"Started long ago"}


def test_the_stalled_threshold_comes_from_the_rule_setting(db):
    _stalled_project("Ten days", 10)
    rule_settings().filter(code="project.stalled").update(threshold=7)
    scan()
    assert flagged("project.stalled") == {"Ten days"}
    assert "more than 7 days" in Flag.objects.get(rule="project.stalled").message


def test_only_active_projects_stall(db):
    project = _stalled_project("On hold", 90)
    project.status = ProjectStatus.ON_HOLD
    project.save()
    scan()
    assert flagged("project.stalled") == set()


def _active_projects(n, **fields):
    return [healthy_project(**fields) for _ in range(n)]


def test_overload_is_more_than_the_threshold_per_manager(db):
    busy = UserFactory(username="busy", first_name="Bea", last_name="Busy")
    full = UserFactory(username="full", first_name="", last_name="")
    _active_projects(6, manager=busy)
    _active_projects(5, manager=full)
    ProjectFactory(manager=full, status=ProjectStatus.PROPOSED)
    scan()
    managers = set(
        Flag.objects.filter(rule="portfolio.overloaded", subject_type="manager").values_list(
            "subject_label", flat=True
        )
    )
    assert managers == {"Bea Busy"}


def test_overload_on_a_crm_strategy_and_a_department(db):
    crm = CRMStrategyFactory(title="Crowded")
    dept = DepartmentFactory(name="Sales")
    for _ in range(6):
        healthy_project(crm_strategy=crm, department=dept)
    scan()
    rows = set(
        Flag.objects.filter(rule="portfolio.overloaded").values_list(
            "subject_type", "subject_label"
        )
    )
    assert rows == {("crm_strategy", "Crowded"), ("department", "Sales")}


def _overloaded(subject_type):
    """Labels of the unresolved portfolio.overloaded flags on one kind of group."""
    unresolved = Flag.objects.filter(
        rule="portfolio.overloaded", subject_type=subject_type, state__in=UNRESOLVED_STATES
    )
    return set(unresolved.values_list("subject_label", flat=True))


def test_a_crm_strategy_with_exactly_the_threshold_of_active_projects_is_not_overloaded(db):
    at_limit, over = CRMStrategyFactory(title="At the limit"), CRMStrategyFactory(title="Over")
    for _ in range(5):
        healthy_project(crm_strategy=at_limit)
    for _ in range(6):
        healthy_project(crm_strategy=over)
    healthy_project(crm_strategy=at_limit, status=ProjectStatus.APPROVED)  # not active
    scan()
    assert _overloaded("crm_strategy") == {"Over"}


def test_a_department_with_exactly_the_threshold_of_active_projects_is_not_overloaded(db):
    at_limit, over = DepartmentFactory(name="At the limit"), DepartmentFactory(name="Over")
    _active_projects(5, department=at_limit)
    _active_projects(6, department=over)
    healthy_project(department=at_limit, status=ProjectStatus.ON_HOLD)  # not active
    scan()
    assert _overloaded("department") == {"Over"}


def test_the_overload_threshold_comes_from_the_rule_setting(db):
    crm = CRMStrategyFactory(title="Three")
    for _ in range(3):
        healthy_project(crm_strategy=crm)
    rule_settings().filter(code="portfolio.overloaded").update(threshold=2)
    scan()
    assert _overloaded("crm_strategy") == {"Three"}
    rule_settings().filter(code="portfolio.overloaded").update(threshold=3)
    scan()
    assert _overloaded("crm_strategy") == set()


def test_a_manager_label_falls_back_to_the_username(db):
    user = UserFactory(username="solo", first_name="", last_name="")
    _active_projects(6, manager=user)
    scan()
    assert flagged("portfolio.overloaded") >= {"solo"}
    assert get_user_model().objects.filter(username="solo").exists()


# --- settings ------------------------------------------------------------------------------


def test_a_disabled_rule_flags_nothing_and_resolves_its_flags(db):
    ProjectFactory(title="Loose")
    scan()
    assert flagged("project.untraced") == {"Loose"}
    rule_settings().filter(code="project.untraced").update(enabled=False)
    scan()
    assert flagged("project.untraced") == set()
    assert Flag.objects.get(rule="project.untraced").state == "resolved"


def test_the_severity_comes_from_the_rule_setting_and_follows_a_change(db):
    ProjectFactory(title="Loose")
    scan()
    assert Flag.objects.get(rule="project.untraced").severity == "critical"
    rule_settings().filter(code="project.untraced").update(severity="info")
    scan()
    assert Flag.objects.get(rule="project.untraced").severity == "info"


def test_missing_rule_settings_are_created_with_the_defaults(db):
    RuleSetting.objects.all().delete()
    scan()
    assert RuleSetting.objects.count() == len(RULES)
    stalled = RuleSetting.objects.get(code="project.stalled")
    assert (stalled.enabled, stalled.severity, stalled.threshold) == (True, "warning", 30)


def test_flags_carry_their_project_and_a_message_that_says_what_to_do(healthy):
    feature = FeatureFactory(project=healthy, title="Orphan")
    scan()
    flag = Flag.objects.get(rule="feature.untraced")
    assert flag.project_id == healthy.pk
    assert flag.subject_id == feature.pk
    assert flag.message.startswith("Link this feature")
    goal_flag_project = Flag.objects.filter(subject_type="goal").values_list("project", flat=True)
    assert list(goal_flag_project) == []


def test_the_rules_querysets_kept_between_re_checks_follow_the_day_and_the_settings(db):
    """A re-check reuses the rules' querysets built for the same day and settings
    (engine._findings): a new threshold or a new day is never served from an old one, and a
    kept queryset never holds rows."""
    project = _stalled_project("Twenty days", 20)
    engine.scan_projects([project.pk])
    assert flagged("project.stalled") == set()
    assert any(key[0] == "project.stalled" for key in engine._FINDINGS)

    rule_settings().filter(code="project.stalled").update(threshold=10)
    engine.scan_projects([project.pk])
    assert flagged("project.stalled") == {"Twenty days"}

    rule_settings().filter(code="project.stalled").update(threshold=30)
    engine.scan_projects([project.pk])
    assert flagged("project.stalled") == set()
    # Eleven days on, at the same threshold: stalled again.
    with transaction.atomic():
        engine.evaluate(
            engine.Scope(project_ids=(project.pk,)),
            now=timezone.now() + datetime.timedelta(days=11),
        )
    assert flagged("project.stalled") == {"Twenty days"}
    assert all(
        queryset._result_cache is None
        for found in engine._FINDINGS.values()
        for queryset in found.values()
    )
