"""Readiness for approval is the rule catalogue evaluated for one project: the checklist, what
blocks approval (a rule setting), and the approval service that enforces it."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from alignment import engine
from alignment.models import UNRESOLVED_STATES, Flag, RuleSetting
from alignment.readiness import project_readiness
from alignment.rules import RULES
from alignment.services import project_approve
from projects.models import CRMProject, ProjectStatus
from tests.factories import (
    DepartmentFactory,
    FeatureFactory,
    FeatureLinkFactory,
    ProjectCheckInFactory,
    ProjectFactory,
    ProjectLinkFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
    UserFactory,
    rule_settings,
)

from .conftest import healthy_project, scan, today

pytestmark = pytest.mark.django_db

PROJECT_SCOPED = [
    "project.untraced",
    "project.broken_chain",
    "feature.untraced",
    "feature.off_scope",
    "project.no_sponsor",
    "project.no_success_metrics",
    "project.no_roadmap",
    "project.it_only",
    "project.technology_only",
    "project.stalled",
    "project.integration_unplanned",
    "project.benefits_unreviewed",
]
BLOCKING_BY_DEFAULT = {"project.no_sponsor", "project.no_success_metrics", "project.no_roadmap"}


def items(project):
    return {item.code: item for item in project_readiness(project.pk).items}


def missing(project):
    return {code for code, item in items(project).items() if item.ok is False}


def open_flags_of(project):
    """Rules with an unresolved flag on the project or one of its features."""
    return set(
        Flag.objects.filter(project=project, state__in=UNRESOLVED_STATES).values_list(
            "rule", flat=True
        )
    )


def ready_proposal(**fields):
    """A proposed project that passes every rule (as approved)."""
    project = healthy_project(status=ProjectStatus.PROPOSED, **fields)
    return project


def approve(project, actor):
    return project_approve(project_id=project.pk, actor=actor)


# --- the checklist is the catalogue ----------------------------------------------------------


def test_the_checklist_has_one_item_per_rule_about_a_project_or_its_features(db):
    project = ProjectFactory()
    assert [item.code for item in project_readiness(project.pk).items] == PROJECT_SCOPED
    assert {code for code, rule in RULES.items() if rule.project_scoped} == set(PROJECT_SCOPED)
    for code in PROJECT_SCOPED:
        assert RULES[code].check, f"{code} needs the checklist's wording"


def test_the_three_health_basics_block_approval_by_default_and_nothing_else(db):
    stored = dict(RuleSetting.objects.values_list("code", "blocks_approval"))
    assert {code for code, blocks in stored.items() if blocks} == BLOCKING_BY_DEFAULT
    assert {code for code, rule in RULES.items() if rule.blocks_approval} == BLOCKING_BY_DEFAULT
    blocking = {i.code for i in project_readiness(ProjectFactory().pk).items if i.blocks_approval}
    assert blocking == BLOCKING_BY_DEFAULT


def test_missing_settings_rows_are_recreated_with_the_rules_blocking_default(db):
    RuleSetting.objects.all().delete()
    scan()
    blocking = set(RuleSetting.objects.filter(blocks_approval=True).values_list("code", flat=True))
    assert blocking == BLOCKING_BY_DEFAULT


def test_an_active_project_misses_exactly_the_rules_that_flag_it(db):
    it = DepartmentFactory(name="IT", is_it=True)
    project = ProjectFactory(
        status=ProjectStatus.ACTIVE,
        sponsor=None,
        department=it,
        budget_people=Decimal("0"),
        start_date=today() - datetime.timedelta(days=90),
    )
    FeatureLinkFactory(feature=FeatureFactory(project=project))  # off scope, traces
    FeatureFactory(project=project)  # untraced
    scan()
    expected = {
        "project.untraced",
        "feature.untraced",
        "feature.off_scope",
        "project.no_sponsor",
        "project.no_success_metrics",
        "project.no_roadmap",
        "project.it_only",
        "project.technology_only",
        "project.stalled",
    }
    assert missing(project) == expected == open_flags_of(project)


def test_a_healthy_active_project_misses_nothing(healthy):
    scan()
    assert missing(healthy) == set() == open_flags_of(healthy)


def test_a_proposal_is_checked_as_it_would_stand_once_approved(db):
    project = ProjectLinkFactory(project__status=ProjectStatus.PROPOSED).project
    scan()
    # No flag yet: metrics and roadmap are only required of approved projects…
    assert open_flags_of(project) == set()
    readiness = project_readiness(project.pk)
    # …which is what approving would make it.
    assert readiness.status == ProjectStatus.APPROVED
    assert missing(project) == {"project.no_success_metrics", "project.no_roadmap"}
    CRMProject.objects.filter(pk=project.pk).update(status=ProjectStatus.APPROVED)
    scan()
    assert open_flags_of(project) == {"project.no_success_metrics", "project.no_roadmap"}


def test_only_the_project_being_checked_counts_as_approved(db):
    checked = ProjectFactory(status=ProjectStatus.ON_HOLD)
    other = ProjectFactory(status=ProjectStatus.PROPOSED)
    assert "project.no_roadmap" in missing(checked)
    assert project_readiness(checked.pk).status == ProjectStatus.APPROVED
    assert project_readiness(other.pk).status == ProjectStatus.APPROVED
    CRMProject.objects.filter(pk=checked.pk).update(status=ProjectStatus.ACTIVE)
    # An active project is checked as it stands (not stalled: it started today).
    assert project_readiness(checked.pk).status == ProjectStatus.ACTIVE


@pytest.mark.parametrize("status", [ProjectStatus.DONE, ProjectStatus.CANCELLED])
def test_done_and_cancelled_projects_are_not_checked(db, status):
    readiness = project_readiness(ProjectFactory(status=status, sponsor=None).pk)
    assert not readiness.checked
    assert all(item.ok for item in readiness.items) and not readiness.blocking


def test_a_missing_feature_item_names_the_features_it_holds_for(healthy):
    FeatureFactory(project=healthy, title="Orphan A")
    FeatureFactory(project=healthy, title="Orphan B")
    FeatureFactory(project=ProjectFactory(), title="Someone else's orphan")
    item = items(healthy)["feature.untraced"]
    assert item.ok is False
    assert item.subjects == ("Orphan A", "Orphan B")
    assert item.advice == RULES["feature.untraced"].advice


def test_the_threshold_is_filled_into_the_check_and_the_advice(db):
    rule_settings().filter(code="project.stalled").update(threshold=7)
    project = healthy_project(start_date=today() - datetime.timedelta(days=60))
    project.check_ins.all().delete()
    ProjectCheckInFactory(project=project, checked_in_on=today() - datetime.timedelta(days=8))
    item = items(project)["project.stalled"]
    assert item.ok is False
    assert item.check == "If active, checked in within the last 7 days"
    assert item.advice.startswith("No check-in for more than 7 days")


def test_a_project_with_no_budget_at_all_is_not_technology_only(db):
    """Decided: no money at all spends nothing on technology alone, so neither the rule nor
    the checklist (the same thing) complains, even when the rule blocks approval."""
    rule_settings().filter(code="project.technology_only").update(blocks_approval=True)
    sponsor = UserFactory(roles=["sponsor"])
    project = ready_proposal(sponsor=sponsor, budget_technology=0, budget_people=0)
    scan()
    assert items(project)["project.technology_only"].ok is True
    assert "project.technology_only" not in open_flags_of(project)
    assert approve(project, sponsor).status == ProjectStatus.APPROVED


def test_readiness_costs_three_queries_however_many_features_fail(
    healthy, django_assert_num_queries
):
    for _ in range(30):
        FeatureLinkFactory(feature=FeatureFactory(project=healthy))  # off scope
        FeatureFactory(project=healthy)  # untraced
    with django_assert_num_queries(3):
        readiness = project_readiness(healthy.pk)
    assert len(readiness.items) == len(PROJECT_SCOPED)


def test_readiness_of_a_project_that_does_not_exist_raises(db):
    with pytest.raises(CRMProject.DoesNotExist):
        project_readiness(987654)


# --- settings: switched off, blocks approval ---------------------------------------------------


def test_a_switched_off_rule_is_not_checked_and_never_blocks(executive):
    rule_settings().filter(code="project.no_sponsor").update(enabled=False)
    project = ready_proposal(sponsor=None)
    item = items(project)["project.no_sponsor"]
    assert (item.ok, item.checked, item.blocking, item.blocks_approval) == (
        None,
        False,
        False,
        False,
    )
    assert approve(project, executive).status == ProjectStatus.APPROVED


def test_any_project_rule_can_be_made_to_block_approval(executive):
    rule_settings().filter(code="project.it_only").update(blocks_approval=True)
    project = ready_proposal(department=DepartmentFactory(name="IT", is_it=True))
    with pytest.raises(ValidationError) as caught:
        approve(project, executive)
    assert caught.value.message_dict["status"] == [
        "Cannot approve until if owned by IT, a business owner is named."
    ]
    project.business_owner = UserFactory()
    project.save()
    assert approve(project, executive).status == ProjectStatus.APPROVED


def test_a_rule_that_no_longer_blocks_lets_approval_through(executive):
    rule_settings().filter(code="project.no_roadmap").update(blocks_approval=False)
    project = ready_proposal()
    project.phases.all().delete()
    assert items(project)["project.no_roadmap"].ok is False
    assert approve(project, executive).status == ProjectStatus.APPROVED


def test_a_portfolio_rule_set_to_block_is_ignored(executive):
    """Only rules about a project or its features are evaluated for one project."""
    rule_settings().filter(code="portfolio.overloaded").update(blocks_approval=True, threshold=0)
    project = ready_proposal()
    healthy_project(manager=project.manager)  # one active project: over a threshold of 0
    scan()
    assert Flag.objects.filter(rule="portfolio.overloaded", subject_type="manager").exists()
    assert approve(project, executive).status == ProjectStatus.APPROVED


# --- approval --------------------------------------------------------------------------------


def test_approval_is_refused_exactly_while_a_blocking_rule_holds(sponsor):
    project = ProjectLinkFactory(project__sponsor=sponsor).project
    with pytest.raises(ValidationError) as caught:
        approve(project, sponsor)
    assert caught.value.message_dict["status"] == [
        "Cannot approve until a success metric has a baseline and a target; "
        "the roadmap has a phase or milestone."
    ]
    SuccessMetricFactory(project=project)
    with pytest.raises(ValidationError):
        approve(project, sponsor)
    RoadmapPhaseFactory(project=project)
    approved = approve(project, sponsor)
    assert (approved.status, approved.approved_by) == (ProjectStatus.APPROVED, sponsor)
    project.refresh_from_db()
    assert project.approved_at is not None


def test_non_blocking_rules_do_not_stop_approval(sponsor):
    project = ready_proposal(sponsor=sponsor, budget_people=Decimal("0"))
    FeatureFactory(project=project)  # untraced feature
    assert missing(project) == {"project.technology_only", "feature.untraced"}
    assert approve(project, sponsor).status == ProjectStatus.APPROVED


def test_approving_a_project_on_hold_works_like_a_proposal(sponsor):
    project = ready_proposal(sponsor=sponsor)
    CRMProject.objects.filter(pk=project.pk).update(status=ProjectStatus.ON_HOLD)
    assert approve(project, sponsor).status == ProjectStatus.APPROVED


@pytest.mark.parametrize(
    "status",
    [ProjectStatus.APPROVED, ProjectStatus.ACTIVE, ProjectStatus.DONE, ProjectStatus.CANCELLED],
)
def test_only_proposed_or_on_hold_projects_can_be_approved(executive, status):
    project = ready_proposal()
    CRMProject.objects.filter(pk=project.pk).update(status=status)
    with pytest.raises(ValidationError) as caught:
        approve(project, executive)
    assert caught.value.message_dict["status"][0].startswith("Only proposed or on-hold")


def test_the_permission_is_checked_on_the_stored_project(sponsor):
    project = ready_proposal(sponsor=sponsor)
    project.sponsor = UserFactory(roles=["sponsor"])  # changed in memory only
    approved = approve(project, sponsor)
    assert approved.approved_by == sponsor


@pytest.mark.parametrize("role", ["pm", "viewer", "nobody", "other_sponsor"])
def test_only_the_sponsor_an_executive_or_an_admin_may_approve(request, role, sponsor):
    actor = (
        UserFactory(username="sponsor2", roles=["sponsor"])
        if role == "other_sponsor"
        else request.getfixturevalue(role)
    )
    project = ready_proposal(sponsor=sponsor)
    # Someone without a role may not even see the project: 404, like every other service.
    with pytest.raises(Http404 if role == "nobody" else PermissionDenied):
        approve(project, actor)
    project.refresh_from_db()
    assert project.status == ProjectStatus.PROPOSED


@pytest.mark.parametrize("role", ["executive", "admin_user"])
def test_executives_and_admins_approve_any_ready_project(request, role):
    project = ready_proposal()
    assert approve(project, request.getfixturevalue(role)).status == ProjectStatus.APPROVED


def test_after_approval_the_scan_opens_no_flag_the_checklist_did_not_show(sponsor):
    project = ready_proposal(sponsor=sponsor, budget_people=Decimal("0"))
    FeatureLinkFactory(feature=FeatureFactory(project=project))
    before = missing(project)
    approve(project, sponsor)
    engine.scan_full()
    assert open_flags_of(project) == before == {"project.technology_only", "feature.off_scope"}
