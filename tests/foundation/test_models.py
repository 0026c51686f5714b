"""Integrity lives in the database: each constraint rejects bad rows at the DB level, and
full_clean() reports the problem with a message (on the field where one field is at fault)."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from goals.models import KPI, BusinessGoal, Direction
from projects.models import (
    CRMProject,
    Feature,
    FeatureLink,
    ProjectLink,
    RoadmapPhase,
    SuccessMetric,
)
from strategies.models import BusinessStrategy, CRMStrategy, CRMStrategyServes
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    FeatureFactory,
    FeatureLinkFactory,
    GoalFactory,
    KPIFactory,
    ProjectFactory,
    ProjectLinkFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
)

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 6, 1)


def rejected_by_database(callable_):
    with pytest.raises(IntegrityError), transaction.atomic():
        callable_()


def clean_errors(instance) -> dict:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


@pytest.mark.parametrize(
    ("model", "factory"),
    [
        (BusinessGoal, GoalFactory),
        (BusinessStrategy, BusinessStrategyFactory),
        (CRMStrategy, CRMStrategyFactory),
        (CRMProject, ProjectFactory),
        (Feature, FeatureFactory),
    ],
)
def test_an_unknown_status_is_rejected_by_the_database_and_by_full_clean(model, factory):
    obj = factory()
    rejected_by_database(lambda: model.objects.filter(pk=obj.pk).update(status="bogus"))
    obj.status = "bogus"
    assert "status" in clean_errors(obj)


def test_a_goal_horizon_ending_before_it_starts_is_rejected():
    goal = GoalFactory()
    rejected_by_database(
        lambda: BusinessGoal.objects.filter(pk=goal.pk).update(
            horizon_start=TODAY, horizon_end=TODAY - datetime.timedelta(days=1)
        )
    )
    goal.horizon_start, goal.horizon_end = TODAY, TODAY - datetime.timedelta(days=1)
    assert "horizon_end" in clean_errors(goal)


def test_goal_titles_are_unique():
    GoalFactory(title="Grow")
    rejected_by_database(lambda: GoalFactory(title="Grow"))
    assert "title" in clean_errors(BusinessGoal(title="Grow", owner=GoalFactory().owner))


@pytest.mark.parametrize(
    ("direction", "baseline", "target"),
    [
        (Direction.INCREASE, "10", "10"),
        (Direction.INCREASE, "10", "5"),
        (Direction.DECREASE, "10", "12"),
    ],
)
def test_a_kpi_target_must_lie_beyond_its_baseline_in_its_direction(direction, baseline, target):
    goal = GoalFactory()
    kpi = KPI(goal=goal, name="Churn", baseline=Decimal(baseline), target=Decimal(target))
    kpi.direction = direction
    assert "target" in clean_errors(kpi)
    rejected_by_database(lambda: kpi.save())


def test_kpi_names_are_unique_per_goal():
    kpi = KPIFactory(name="Margin")
    rejected_by_database(lambda: KPIFactory(goal=kpi.goal, name="Margin"))
    duplicate = KPI(goal=kpi.goal, name="Margin", baseline=1, target=2)
    assert "This goal already has a KPI with that name." in str(clean_errors(duplicate))
    KPIFactory(name="Margin")  # another goal may reuse the name


def test_business_strategy_titles_are_unique_per_goal():
    strategy = BusinessStrategyFactory(title="Partners")
    rejected_by_database(lambda: BusinessStrategyFactory(goal=strategy.goal, title="Partners"))
    duplicate = BusinessStrategy(goal=strategy.goal, title="Partners", owner=strategy.owner)
    assert "already has a business strategy named “Partners”" in str(clean_errors(duplicate))


def test_a_crm_strategy_serves_a_business_strategy_only_once():
    crm = CRMStrategyFactory(serves=[])
    business = BusinessStrategyFactory()
    CRMStrategyServes.objects.create(crm_strategy=crm, business_strategy=business)
    rejected_by_database(
        lambda: CRMStrategyServes.objects.create(crm_strategy=crm, business_strategy=business)
    )


def test_project_dates_must_be_in_order():
    project = ProjectFactory()
    rejected_by_database(
        lambda: CRMProject.objects.filter(pk=project.pk).update(
            start_date=TODAY, end_date=TODAY - datetime.timedelta(days=1)
        )
    )
    project.start_date, project.end_date = TODAY, TODAY - datetime.timedelta(days=1)
    assert "end_date" in clean_errors(project)


def test_project_budgets_cannot_be_negative():
    project = ProjectFactory()
    rejected_by_database(
        lambda: CRMProject.objects.filter(pk=project.pk).update(budget_training=Decimal("-1"))
    )
    project.budget_training = Decimal("-1")
    assert "budget_training" in clean_errors(project)


def test_a_project_links_a_crm_strategy_only_once():
    link = ProjectLinkFactory()
    rejected_by_database(
        lambda: ProjectLink.objects.create(project=link.project, crm_strategy=link.crm_strategy)
    )
    duplicate = ProjectLink(project=link.project, crm_strategy=link.crm_strategy)
    assert "already linked to this CRM strategy" in str(clean_errors(duplicate))


@pytest.mark.parametrize("weight", [0, 101])
def test_link_weights_stay_between_1_and_100(weight):
    link = ProjectLinkFactory()
    rejected_by_database(lambda: ProjectLink.objects.filter(pk=link.pk).update(weight=weight))
    link.weight = weight
    assert "weight" in clean_errors(link)
    feature_link = FeatureLinkFactory()
    rejected_by_database(
        lambda: FeatureLink.objects.filter(pk=feature_link.pk).update(weight=weight)
    )


def test_a_feature_links_a_crm_strategy_only_once():
    link = FeatureLinkFactory()
    rejected_by_database(
        lambda: FeatureLink.objects.create(feature=link.feature, crm_strategy=link.crm_strategy)
    )


def test_feature_titles_are_unique_per_project():
    feature = FeatureFactory(title="Deal registration")
    rejected_by_database(lambda: FeatureFactory(project=feature.project, title="Deal registration"))
    duplicate = Feature(project=feature.project, title="Deal registration")
    assert "already has a feature named “Deal registration”" in str(clean_errors(duplicate))


def test_a_success_metric_target_must_differ_from_its_baseline():
    metric = SuccessMetricFactory()
    rejected_by_database(
        lambda: SuccessMetric.objects.filter(pk=metric.pk).update(baseline=5, target=5)
    )
    metric.baseline = metric.target = Decimal("5")
    assert "target" in clean_errors(metric)


def test_metric_names_are_unique_per_project():
    metric = SuccessMetricFactory(name="NPS")
    rejected_by_database(lambda: SuccessMetricFactory(project=metric.project, name="NPS"))


def test_roadmap_phase_dates_must_be_in_order():
    phase = RoadmapPhaseFactory()
    rejected_by_database(
        lambda: RoadmapPhase.objects.filter(pk=phase.pk).update(
            start_date=TODAY, end_date=TODAY - datetime.timedelta(days=3)
        )
    )
    phase.start_date, phase.end_date = TODAY, TODAY - datetime.timedelta(days=3)
    assert "end_date" in clean_errors(phase)


def test_deleting_what_others_depend_on_is_protected_at_the_database_level():
    strategy = BusinessStrategyFactory()
    with pytest.raises(ProtectedError):
        strategy.goal.delete()
    link = ProjectLinkFactory()
    with pytest.raises(ProtectedError):
        link.crm_strategy.delete()


def test_deleting_a_project_takes_its_features_links_and_metrics_with_it():
    link = ProjectLinkFactory()
    feature = FeatureFactory(project=link.project)
    FeatureLinkFactory(feature=feature, crm_strategy=link.crm_strategy)
    SuccessMetricFactory(project=link.project)
    link.project.delete()
    assert not Feature.objects.exists()
    assert not ProjectLink.objects.exists()
    assert not FeatureLink.objects.exists()
    assert not SuccessMetric.objects.exists()


def test_kpi_progress_is_the_share_of_the_way_from_baseline_to_target():
    kpi = KPIFactory(baseline=Decimal("10"), target=Decimal("20"), current=Decimal("15"))
    assert kpi.progress_percent == 50
    kpi.current = Decimal("30")
    assert kpi.progress_percent == 100
    kpi.current = None
    assert kpi.progress_percent is None


def test_project_budget_totals_split_technology_and_capability():
    project = ProjectFactory(
        budget_technology=Decimal("100"),
        budget_people=Decimal("10"),
        budget_process=Decimal("20"),
        budget_training=Decimal("30"),
        budget_incentives=Decimal("40"),
    )
    assert project.budget_capability == Decimal("100")
    assert project.budget_total == Decimal("200")
