"""Services: every write checks the role, validates with field-named errors and writes nothing
half-done."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from alignment import services as alignment_services
from goals import services as goal_services
from goals.models import KPI, BusinessGoal, GoalStatus
from projects import services as project_services
from projects.models import CRMProject, Feature, ProjectLink, ProjectStatus
from projects.services import LinkSpec
from strategies import services as strategy_services
from strategies.models import BusinessStrategy, CRMStrategy, CRMStrategyServes, StrategyStatus
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    FeatureFactory,
    GoalFactory,
    KPIFactory,
    ProjectFactory,
    ProjectLinkFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
)

pytestmark = pytest.mark.django_db


def field_errors(caught) -> dict:
    return caught.value.message_dict


# --- goals and KPIs ---------------------------------------------------------------------


def test_an_executive_creates_a_goal_they_own_by_default(executive):
    goal = goal_services.goal_create(actor=executive, title="Grow revenue", status="active")
    assert goal.pk and goal.owner == executive


def test_a_goal_without_a_title_is_refused_naming_the_title(executive):
    with pytest.raises(ValidationError) as caught:
        goal_services.goal_create(actor=executive, title="")
    assert "title" in field_errors(caught)
    assert not BusinessGoal.objects.exists()


def test_a_goal_with_an_unknown_status_is_refused_naming_the_status(executive):
    with pytest.raises(ValidationError) as caught:
        goal_services.goal_create(actor=executive, title="Grow", status="paused")
    assert "status" in field_errors(caught)


def test_a_goal_with_dates_out_of_order_is_refused_naming_the_end(executive):
    with pytest.raises(ValidationError) as caught:
        goal_services.goal_create(
            actor=executive,
            title="Grow",
            horizon_start=datetime.date(2026, 5, 1),
            horizon_end=datetime.date(2026, 4, 1),
        )
    assert "horizon_end" in field_errors(caught)


def test_an_over_long_goal_title_is_refused_naming_the_title(executive):
    with pytest.raises(ValidationError) as caught:
        goal_services.goal_create(actor=executive, title="x" * 201)
    assert "title" in field_errors(caught)


def test_a_field_the_service_does_not_own_is_refused_not_dropped(executive):
    goal = GoalFactory()
    with pytest.raises(ValidationError) as caught:
        goal_services.goal_update(
            goal_id=goal.pk, actor=executive, changes={"created_at": timezone.now()}
        )
    assert "created_at" in field_errors(caught)


@pytest.mark.parametrize("persona", ["pm", "sponsor", "viewer", "nobody"])
def test_only_executives_define_goals(persona, request):
    user = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        goal_services.goal_create(actor=user, title="Grow")
    assert not BusinessGoal.objects.exists()


def test_deleting_a_goal_with_strategies_is_refused_naming_them(executive):
    strategy = BusinessStrategyFactory(title="Emerging markets via partners")
    with pytest.raises(ValidationError) as caught:
        goal_services.goal_delete(goal_id=strategy.goal_id, actor=executive)
    assert caught.value.code == "protected"
    assert "Emerging markets via partners" in caught.value.messages[0]
    assert "Retire it by status instead" in caught.value.messages[0]
    assert BusinessGoal.objects.filter(pk=strategy.goal_id).exists()


def test_a_goal_nothing_depends_on_can_be_deleted(executive):
    goal = GoalFactory()
    goal_services.goal_delete(goal_id=goal.pk, actor=executive)
    assert not BusinessGoal.objects.exists()


def test_a_kpi_whose_target_equals_its_baseline_is_refused(executive):
    goal = GoalFactory()
    with pytest.raises(ValidationError) as caught:
        goal_services.kpi_create(
            goal_id=goal.pk,
            actor=executive,
            name="Margin",
            baseline=Decimal(30),
            target=Decimal(30),
        )
    assert "target" in field_errors(caught)
    assert not KPI.objects.exists()


def test_a_kpi_check_in_moves_current_to_the_newest_reading(executive):
    kpi = KPIFactory(baseline=Decimal("10"), target=Decimal("20"))
    goal_services.kpi_check_in(
        kpi_id=kpi.pk, actor=executive, value=Decimal("14"), recorded_on=datetime.date(2026, 3, 1)
    )
    # An older reading recorded later does not become "current".
    goal_services.kpi_check_in(
        kpi_id=kpi.pk, actor=executive, value=Decimal("12"), recorded_on=datetime.date(2026, 1, 1)
    )
    kpi.refresh_from_db()
    assert kpi.current == Decimal("14")
    assert kpi.check_ins.count() == 2


def test_a_viewer_cannot_record_a_kpi_reading(viewer):
    kpi = KPIFactory()
    with pytest.raises(PermissionDenied):
        goal_services.kpi_check_in(
            kpi_id=kpi.pk, actor=viewer, value=Decimal("1"), recorded_on=datetime.date(2026, 1, 1)
        )


# --- strategies -------------------------------------------------------------------------


def test_a_business_strategy_needs_a_goal(executive):
    with pytest.raises(ValidationError) as caught:
        strategy_services.business_strategy_create(actor=executive, goal_id=None, title="Partners")
    assert "goal" in field_errors(caught)


def test_a_business_strategy_cannot_be_put_under_a_retired_goal(executive):
    goal = GoalFactory(status=GoalStatus.RETIRED)
    with pytest.raises(ValidationError) as caught:
        strategy_services.business_strategy_create(
            actor=executive, goal_id=goal.pk, title="Partners"
        )
    assert "goal" in field_errors(caught)
    assert not BusinessStrategy.objects.exists()


def test_a_crm_strategy_cannot_newly_serve_a_retired_business_strategy(executive):
    retired = BusinessStrategyFactory(status=StrategyStatus.RETIRED)
    with pytest.raises(ValidationError) as caught:
        strategy_services.crm_strategy_create(
            actor=executive, title="Telesales", business_strategies=[retired.pk]
        )
    assert "business_strategies" in field_errors(caught)
    # The atomic service wrote nothing: not even the strategy itself.
    assert not CRMStrategy.objects.exists()


def test_updating_what_a_crm_strategy_serves_replaces_the_set(executive):
    first, second = BusinessStrategyFactory(), BusinessStrategyFactory()
    crm = strategy_services.crm_strategy_create(
        actor=executive, title="Partners", business_strategies=[first.pk]
    )
    strategy_services.crm_strategy_update(
        actor=executive, crm_strategy_id=crm.pk, changes={"business_strategies": [second.pk]}
    )
    assert list(CRMStrategyServes.objects.values_list("business_strategy", flat=True)) == [
        second.pk
    ]


def test_a_served_business_strategy_cannot_be_deleted(executive):
    crm = CRMStrategyFactory(title="Partner enablement")
    business = crm.business_strategies.get()
    with pytest.raises(ValidationError) as caught:
        strategy_services.business_strategy_delete(
            actor=executive, business_strategy_id=business.pk
        )
    assert "Partner enablement" in caught.value.messages[0]


def test_a_crm_strategy_projects_link_to_cannot_be_deleted(executive):
    link = ProjectLinkFactory(project__title="Partner portal")
    with pytest.raises(ValidationError) as caught:
        strategy_services.crm_strategy_delete(actor=executive, crm_strategy_id=link.crm_strategy_id)
    assert caught.value.code == "protected"
    assert "Partner portal" in caught.value.messages[0]


def test_a_project_manager_cannot_define_crm_strategies(pm):
    with pytest.raises(PermissionDenied):
        strategy_services.crm_strategy_create(actor=pm, title="Partners")


# --- projects ---------------------------------------------------------------------------


def test_a_project_manager_creates_a_project_they_manage(pm):
    project = project_services.project_create(actor=pm, title="Partner portal")
    assert project.manager == pm and project.status == ProjectStatus.PROPOSED


@pytest.mark.parametrize("persona", ["executive", "sponsor", "viewer"])
def test_only_project_managers_create_projects(persona, request):
    with pytest.raises(PermissionDenied):
        project_services.project_create(actor=request.getfixturevalue(persona), title="X")


def test_a_manager_cannot_edit_someone_elses_project(pm, other_pm):
    project = ProjectFactory(manager=pm)
    with pytest.raises(PermissionDenied):
        project_services.project_update(
            project_id=project.pk, actor=other_pm, changes={"title": "Mine now"}
        )
    project.refresh_from_db()
    assert project.title != "Mine now"


def test_a_viewer_cannot_be_named_sponsor_and_nothing_is_written(pm, viewer):
    with pytest.raises(ValidationError) as caught:
        project_services.project_create(actor=pm, title="Sponsored by a reader", sponsor=viewer)

    assert "sponsor or executive role" in field_errors(caught)["sponsor"][0]
    assert not CRMProject.objects.filter(title="Sponsored by a reader").exists()


def test_an_executive_or_an_admin_may_sponsor_and_any_role_may_own(pm, executive, admin_user):
    project = project_services.project_create(
        actor=pm, title="Well staffed", sponsor=executive, business_owner=pm
    )
    project_services.project_update(
        project_id=project.pk, actor=pm, changes={"sponsor": admin_user}
    )

    project.refresh_from_db()
    assert project.sponsor == admin_user and project.business_owner == pm


def test_a_sponsor_who_lost_the_role_does_not_block_unrelated_edits(pm, sponsor):
    project = project_services.project_create(actor=pm, title="Before", sponsor=sponsor)
    sponsor.groups.clear()
    del sponsor._crm_roles

    project_services.project_update(project_id=project.pk, actor=pm, changes={"title": "After"})
    with pytest.raises(ValidationError) as caught:
        project_services.project_update(
            project_id=project.pk,
            actor=pm,
            changes={"sponsor": None, "business_owner": sponsor},
        )

    assert "business_owner" in field_errors(caught)
    assert CRMProject.objects.get(pk=project.pk).title == "After"


def test_only_an_admin_creates_a_project_for_another_manager(pm, other_pm, admin_user):
    with pytest.raises(ValidationError) as caught:
        project_services.project_create(actor=pm, title="Yours", manager=other_pm)
    project = project_services.project_create(actor=admin_user, title="Theirs", manager=other_pm)

    assert "manager" in field_errors(caught)
    assert project.manager == other_pm


def test_a_duplicate_name_is_refused_on_the_name_field_not_form_wide(executive, pm):
    kpi = KPIFactory()
    project = ProjectFactory(manager=pm)
    FeatureFactory(project=project, title="Partner portal")

    with pytest.raises(ValidationError) as kpi_error:
        goal_services.kpi_create(
            goal_id=kpi.goal_id, actor=executive, name=kpi.name, baseline=1, target=2
        )
    with pytest.raises(ValidationError) as feature_error:
        project_services.feature_create(project_id=project.pk, actor=pm, title="Partner portal")

    assert field_errors(kpi_error) == {"name": ["This goal already has a KPI with that name."]}
    assert field_errors(feature_error) == {
        "title": ["This project already has a feature named “Partner portal”."]
    }


def test_a_kpi_baseline_that_is_not_a_number_is_refused_naming_it(executive):
    goal = GoalFactory()

    with pytest.raises(ValidationError) as caught:
        goal_services.kpi_create(
            goal_id=goal.pk, actor=executive, name="Margin", baseline="abc", target=2
        )

    assert "baseline" in field_errors(caught)
    assert not KPI.objects.filter(goal=goal).exists()


def test_a_business_strategy_cannot_lose_its_goal(executive):
    strategy = BusinessStrategyFactory()

    with pytest.raises(ValidationError) as caught:
        strategy_services.business_strategy_update(
            actor=executive, business_strategy_id=strategy.pk, changes={"goal": None}
        )

    assert "goal" in field_errors(caught)


def test_a_project_check_in_dated_in_the_future_is_refused(pm):
    project = ProjectFactory(manager=pm)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    with pytest.raises(ValidationError) as caught:
        project_services.project_check_in(
            project_id=project.pk, actor=pm, summary="Ahead of time", checked_in_on=tomorrow
        )
    today = project_services.project_check_in(project_id=project.pk, actor=pm, summary="On track")

    assert "checked_in_on" in field_errors(caught)
    assert list(project.check_ins.all()) == [today]


def test_project_dates_out_of_order_are_refused_naming_the_end_date(pm):
    project = ProjectFactory(manager=pm)
    with pytest.raises(ValidationError) as caught:
        project_services.project_update(
            project_id=project.pk,
            actor=pm,
            changes={
                "start_date": datetime.date(2026, 5, 1),
                "end_date": datetime.date(2026, 1, 1),
            },
        )
    assert "end_date" in field_errors(caught)


def test_a_project_cannot_be_approved_by_editing_its_status(pm):
    project = ProjectFactory(manager=pm)
    with pytest.raises(ValidationError) as caught:
        project_services.project_update(
            project_id=project.pk, actor=pm, changes={"status": ProjectStatus.APPROVED}
        )
    assert "status" in field_errors(caught)


def test_a_project_must_be_approved_before_it_becomes_active(pm):
    project = ProjectFactory(manager=pm)
    with pytest.raises(ValidationError) as caught:
        project_services.project_update(
            project_id=project.pk, actor=pm, changes={"status": ProjectStatus.ACTIVE}
        )
    assert "approved" in field_errors(caught)["status"][0]


def _approve(project, actor):
    return alignment_services.project_approve(project_id=project.pk, actor=actor)


def _ready(**fields):
    """A proposal that passes every rule blocking approval by default."""
    project = ProjectFactory(**fields)
    SuccessMetricFactory(project=project)
    RoadmapPhaseFactory(project=project)
    return project


def test_approval_is_refused_without_sponsor_metric_and_roadmap_naming_all_three(executive):
    project = ProjectFactory(sponsor=None)
    with pytest.raises(ValidationError) as caught:
        _approve(project, executive)
    assert field_errors(caught)["status"] == [
        "Cannot approve until an executive sponsor is named; a success metric has a baseline "
        "and a target; the roadmap has a phase or milestone."
    ]
    project.refresh_from_db()
    assert project.status == ProjectStatus.PROPOSED and project.approved_at is None


def test_a_metric_without_a_target_does_not_satisfy_approval(sponsor):
    project = ProjectFactory(sponsor=sponsor)
    SuccessMetricFactory(project=project, target=None)
    RoadmapPhaseFactory(project=project)
    with pytest.raises(ValidationError) as caught:
        _approve(project, sponsor)
    assert "a success metric has a baseline and a target" in field_errors(caught)["status"][0]


def test_the_sponsor_approves_a_ready_project(sponsor):
    approved = _approve(_ready(sponsor=sponsor), sponsor)
    assert approved.status == ProjectStatus.APPROVED
    assert approved.approved_by == sponsor and approved.approved_at is not None


def test_a_sponsor_cannot_approve_a_project_they_do_not_sponsor(sponsor):
    with pytest.raises(PermissionDenied):
        _approve(_ready(), sponsor)


def test_an_active_project_cannot_be_approved_again(sponsor, pm):
    project = _ready(sponsor=sponsor, manager=pm)
    _approve(project, sponsor)
    project_services.project_update(
        project_id=project.pk, actor=pm, changes={"status": ProjectStatus.ACTIVE}
    )
    project.refresh_from_db()
    with pytest.raises(ValidationError) as caught:
        _approve(project, sponsor)
    assert "Only proposed or on-hold" in field_errors(caught)["status"][0]


def test_an_approved_project_cannot_be_deleted_only_cancelled(sponsor, pm):
    project = _ready(sponsor=sponsor, manager=pm)
    _approve(project, sponsor)
    project.refresh_from_db()
    with pytest.raises(ValidationError) as caught:
        project_services.project_delete(project_id=project.pk, actor=pm)
    assert "cancelled" in caught.value.messages[0]
    assert CRMProject.objects.filter(pk=project.pk).exists()


def test_a_proposed_project_can_be_deleted_by_its_manager(pm):
    project = ProjectFactory(manager=pm)
    project_services.project_delete(project_id=project.pk, actor=pm)
    assert not CRMProject.objects.exists()


def test_setting_links_replaces_them_with_rationale_and_weight(pm):
    project = ProjectFactory(manager=pm)
    old, new = CRMStrategyFactory(), CRMStrategyFactory()
    project_services.project_set_links(
        project_id=project.pk, actor=pm, links=[LinkSpec(old.pk, "Old partners sell for us.")]
    )
    project_services.project_set_links(
        project_id=project.pk, actor=pm, links=[LinkSpec(new.pk, "Partners sell for us.", 60)]
    )
    link = ProjectLink.objects.get(project=project)
    assert (link.crm_strategy, link.rationale, link.weight) == (new, "Partners sell for us.", 60)


def test_a_new_link_to_a_retired_crm_strategy_is_refused(pm):
    project = ProjectFactory(manager=pm)
    retired = CRMStrategyFactory(status=StrategyStatus.RETIRED, title="Old telesales")
    with pytest.raises(ValidationError) as caught:
        project_services.project_set_links(
            project_id=project.pk, actor=pm, links=[LinkSpec(retired.pk)]
        )
    assert "Old telesales" in field_errors(caught)["crm_strategies"][0]
    assert not ProjectLink.objects.exists()


def test_an_existing_link_may_stay_when_its_crm_strategy_is_retired(pm):
    link = ProjectLinkFactory(project__manager=pm)
    CRMStrategy.objects.filter(pk=link.crm_strategy_id).update(status=StrategyStatus.RETIRED)
    project_services.project_set_links(
        project_id=link.project_id,
        actor=pm,
        links=[LinkSpec(link.crm_strategy_id, "Still needed for this strategy.")],
    )
    assert ProjectLink.objects.get().rationale == "Still needed for this strategy."


def test_an_over_long_link_rationale_is_refused_naming_it(pm):
    project = ProjectFactory(manager=pm)
    with pytest.raises(ValidationError) as caught:
        project_services.project_set_links(
            project_id=project.pk, actor=pm, links=[LinkSpec(CRMStrategyFactory().pk, "r" * 501)]
        )
    assert "rationale" in field_errors(caught)
    assert not ProjectLink.objects.exists()


def test_new_features_go_to_the_end_of_the_list(pm):
    project = ProjectFactory(manager=pm)
    first = project_services.feature_create(project_id=project.pk, actor=pm, title="First")
    second = project_services.feature_create(project_id=project.pk, actor=pm, title="Second")
    assert second.position == first.position + 1


def test_features_are_reordered_as_given(pm):
    project = ProjectFactory(manager=pm)
    a, b, c = (FeatureFactory(project=project) for _ in range(3))
    project_services.feature_reorder(
        project_id=project.pk, actor=pm, feature_ids=[c.pk, a.pk, b.pk]
    )
    assert list(project.features.order_by("position").values_list("pk", flat=True)) == [
        c.pk,
        a.pk,
        b.pk,
    ]


def test_a_reorder_that_misses_a_feature_is_refused(pm):
    project = ProjectFactory(manager=pm)
    a, b = FeatureFactory(project=project), FeatureFactory(project=project)
    with pytest.raises(ValidationError) as caught:
        project_services.feature_reorder(project_id=project.pk, actor=pm, feature_ids=[a.pk, a.pk])
    assert "features" in field_errors(caught)
    assert Feature.objects.get(pk=b.pk).position == b.position


def test_a_feature_with_an_unknown_status_is_refused(pm):
    project = ProjectFactory(manager=pm)
    with pytest.raises(ValidationError) as caught:
        project_services.feature_create(
            project_id=project.pk, actor=pm, title="X", status="shipped"
        )
    assert "status" in field_errors(caught)


def test_a_check_in_is_dated_today_unless_given(pm):
    project = ProjectFactory(manager=pm)
    check_in = project_services.project_check_in(
        project_id=project.pk, actor=pm, summary="On track."
    )
    assert check_in.checked_in_on == timezone.localdate()
    assert check_in.author == pm


def test_a_check_in_needs_a_summary(pm):
    project = ProjectFactory(manager=pm)
    with pytest.raises(ValidationError) as caught:
        project_services.project_check_in(project_id=project.pk, actor=pm, summary="")
    assert "summary" in field_errors(caught)


def test_a_viewer_cannot_check_in_on_a_project(viewer):
    with pytest.raises(PermissionDenied):
        project_services.project_check_in(
            project_id=ProjectFactory().pk, actor=viewer, summary="Hi"
        )


def test_a_metric_with_target_equal_to_baseline_is_refused(pm):
    project = ProjectFactory(manager=pm)
    with pytest.raises(ValidationError) as caught:
        project_services.metric_create(
            project_id=project.pk, actor=pm, name="NPS", baseline=Decimal(5), target=Decimal(5)
        )
    assert "target" in field_errors(caught)


def test_a_roadmap_phase_with_dates_out_of_order_is_refused(pm):
    project = ProjectFactory(manager=pm)
    with pytest.raises(ValidationError) as caught:
        project_services.phase_create(
            project_id=project.pk,
            actor=pm,
            name="Pilot",
            start_date=datetime.date(2026, 3, 1),
            end_date=datetime.date(2026, 2, 1),
        )
    assert "end_date" in field_errors(caught)


def test_an_admin_may_edit_any_project(admin_user):
    project = ProjectFactory()
    project_services.project_update(
        project_id=project.pk, actor=admin_user, changes={"title": "Renamed"}
    )
    project.refresh_from_db()
    assert project.title == "Renamed"
