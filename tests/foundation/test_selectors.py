"""Selectors: traceability is a database annotation, and lists cost the same queries for 2 rows
as for 50."""

import pytest

from goals.models import GoalStatus
from projects.selectors import features_with_trace, projects_with_trace
from projects.trace import project_trace
from strategies.models import StrategyStatus
from strategies.selectors import business_strategies_with_counts, crm_strategies_with_trace
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    FeatureFactory,
    FeatureLinkFactory,
    GoalFactory,
    ProjectFactory,
    ProjectLinkFactory,
)

pytestmark = pytest.mark.django_db


def _retired_chain_crm():
    """An active CRM strategy serving only a business strategy under a retired goal."""
    goal = GoalFactory(status=GoalStatus.RETIRED)
    return CRMStrategyFactory(serves=[BusinessStrategyFactory(goal=goal)])


def test_a_project_with_an_active_chain_is_traceable():
    link = ProjectLinkFactory()
    project = projects_with_trace().get(pk=link.project_id)
    assert project.is_linked and project.is_traceable


def test_a_project_whose_links_break_is_linked_but_not_traceable():
    link = ProjectLinkFactory(crm_strategy=_retired_chain_crm())
    project = projects_with_trace().get(pk=link.project_id)
    assert project.is_linked and not project.is_traceable


@pytest.mark.parametrize("broken", ["crm", "business"])
def test_a_retired_crm_or_business_strategy_breaks_the_chain(broken):
    link = ProjectLinkFactory()
    if broken == "crm":
        link.crm_strategy.status = StrategyStatus.RETIRED
        link.crm_strategy.save()
    else:
        link.crm_strategy.business_strategies.update(status=StrategyStatus.DRAFT)
    assert not projects_with_trace().get(pk=link.project_id).is_traceable


def test_an_unlinked_project_is_neither_linked_nor_traceable():
    project = projects_with_trace().get(pk=ProjectFactory().pk)
    assert not project.is_linked and not project.is_traceable


def test_one_active_chain_among_broken_ones_is_enough():
    link = ProjectLinkFactory(crm_strategy=_retired_chain_crm())
    ProjectLinkFactory(project=link.project)
    assert projects_with_trace().get(pk=link.project_id).is_traceable


def test_projects_count_their_features_and_the_traced_ones():
    link = ProjectLinkFactory()
    traced = FeatureFactory(project=link.project)
    FeatureLinkFactory(feature=traced, crm_strategy=link.crm_strategy)
    FeatureFactory(project=link.project)  # unlinked
    broken = FeatureFactory(project=link.project)
    FeatureLinkFactory(feature=broken, crm_strategy=_retired_chain_crm())
    project = projects_with_trace().get(pk=link.project_id)
    assert (project.feature_count, project.features_traced) == (3, 1)


def test_a_feature_counts_once_as_traced_however_many_of_its_links_trace():
    link = ProjectLinkFactory()
    twice = FeatureFactory(project=link.project)
    FeatureLinkFactory(feature=twice, crm_strategy=link.crm_strategy)
    FeatureLinkFactory(feature=twice, crm_strategy=CRMStrategyFactory())
    mixed = FeatureFactory(project=link.project)
    FeatureLinkFactory(feature=mixed, crm_strategy=_retired_chain_crm())
    FeatureLinkFactory(feature=mixed, crm_strategy=link.crm_strategy)
    # A CRM strategy serving two live business strategies is anchored twice over.
    doubly = CRMStrategyFactory(serves=[BusinessStrategyFactory(), BusinessStrategyFactory()])
    FeatureLinkFactory(feature=FeatureFactory(project=link.project), crm_strategy=doubly)
    FeatureLinkFactory(feature=FeatureFactory(), crm_strategy=doubly)  # another project's

    project = projects_with_trace().get(pk=link.project_id)

    assert (project.feature_count, project.features_traced) == (3, 3)


def test_projects_carry_their_budget_sums():
    project = ProjectFactory(
        budget_technology=100, budget_people=10, budget_process=5, budget_training=3
    )
    annotated = projects_with_trace().get(pk=project.pk)
    assert annotated.budget_capability_total == 18
    assert annotated.budget_sum == 118


def test_features_are_annotated_traceable_broken_or_unlinked():
    good = FeatureLinkFactory().feature
    broken = FeatureLinkFactory(crm_strategy=_retired_chain_crm()).feature
    loose = FeatureFactory()
    rows = {f.pk: (f.is_linked, f.is_traceable) for f in features_with_trace()}
    assert rows[good.pk] == (True, True)
    assert rows[broken.pk] == (True, False)
    assert rows[loose.pk] == (False, False)


def test_crm_strategies_say_whether_they_are_anchored():
    anchored = CRMStrategyFactory()
    unanchored = _retired_chain_crm()
    rows = {s.pk: s.is_anchored for s in crm_strategies_with_trace()}
    assert rows[anchored.pk] is True and rows[unanchored.pk] is False


def test_business_strategies_count_their_active_crm_strategies():
    business = BusinessStrategyFactory()
    CRMStrategyFactory(serves=[business])
    CRMStrategyFactory(serves=[business], status=StrategyStatus.RETIRED)
    row = business_strategies_with_counts().get(pk=business.pk)
    assert (row.crm_strategy_count, row.active_crm_strategy_count) == (2, 1)


def test_project_trace_lists_every_chain_with_its_state():
    link = ProjectLinkFactory()
    ProjectLinkFactory(project=link.project, crm_strategy=_retired_chain_crm())
    chains = project_trace(link.project)
    assert sorted(chain["traceable"] for chain in chains) == [False, True]
    good = next(chain for chain in chains if chain["traceable"])
    assert good["goal"]["status"] == GoalStatus.ACTIVE


def _make_projects(n):
    crm = CRMStrategyFactory()
    for _ in range(n):
        link = ProjectLinkFactory(crm_strategy=crm)
        FeatureLinkFactory(feature__project=link.project, crm_strategy=crm)


@pytest.mark.parametrize("rows", [2, 50])
def test_listing_projects_with_trace_is_one_query_however_many_rows(
    rows, django_assert_num_queries
):
    _make_projects(rows)
    with django_assert_num_queries(1):
        projects = list(projects_with_trace())
        _ = [(p.manager.username, p.sponsor.username, p.department.name) for p in projects]
    assert len(projects) == rows


@pytest.mark.parametrize("rows", [2, 50])
def test_listing_features_with_trace_is_one_query_however_many_rows(
    rows, django_assert_num_queries
):
    _make_projects(rows)
    with django_assert_num_queries(1):
        features = [(f.project.title, f.is_traceable) for f in features_with_trace()]
    assert len(features) == rows


@pytest.mark.parametrize("rows", [2, 50])
def test_listing_crm_strategies_with_trace_is_one_query_however_many_rows(
    rows, django_assert_num_queries
):
    for _ in range(rows):
        CRMStrategyFactory()
    with django_assert_num_queries(1):
        strategies = [(s.owner.username, s.is_anchored) for s in crm_strategies_with_trace()]
    assert len(strategies) == rows
