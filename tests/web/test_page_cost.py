"""The pages that used to grow with the portfolio cost the page, not the portfolio: the
dashboard, the summary API, the strategy map's first screen and each of its branches run the
same queries AND fetch the same number of rows for 2 projects as for 200.

Each measurement builds its portfolio in a savepoint that is rolled back, on one fixed chain
(so the strategies, the rules that fire and the number of scans are the same at both sizes):
half the projects trace, each has a traced and an untraced feature, and a full scan runs."""

from dataclasses import dataclass

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from alignment import engine, strategy_map
from projects.models import CRMProject, Feature, FeatureLink, ProjectLink
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    DepartmentFactory,
    FeatureFactory,
    FeatureLinkFactory,
    GoalFactory,
    ProjectFactory,
    ProjectLinkFactory,
    UserFactory,
)
from tests.rows import RowCount, count_rows
from tests.tokens import token_for

pytestmark = pytest.mark.django_db

SMALL, BIG = 2, 200


@dataclass
class Chain:
    goal: object
    business: object
    crm: object
    loose_crm: object
    people: dict


@pytest.fixture
def chain(db):
    goal = GoalFactory(title="Grow revenue")
    business = BusinessStrategyFactory(goal=goal, title="Emerging markets")
    crm = CRMStrategyFactory(title="Enable local partners", serves=[business])
    loose_crm = CRMStrategyFactory(title="A tool, not a strategy", serves=[])
    people = {
        "manager": UserFactory(username="cost-pm", roles=["project_manager"]),
        "sponsor": UserFactory(username="cost-sponsor", roles=["sponsor"]),
        "department": DepartmentFactory(),
    }
    # Linked to nothing, at both sizes: a not-traced list of one-row pages has a next page
    # (it reads one row ahead to know) for 2 projects as for 200.
    FeatureFactory(project=ProjectFactory(title="Always loose", **people))
    return Chain(goal, business, crm, loose_crm, people)


def build(chain: Chain, n: int) -> None:
    """n proposed projects (proposed: no 'too many active projects' rule depends on n), every
    other one linked to the chain; each with a traced and an untraced feature; then a scan."""
    for i in range(n):
        project = ProjectFactory(**chain.people)
        feature = FeatureFactory(project=project)
        if i % 2 == 0:
            ProjectLinkFactory(project=project, crm_strategy=chain.crm)
            FeatureLinkFactory(feature=feature, crm_strategy=chain.crm)
        FeatureFactory(project=project)
    engine.scan_full()


def assert_same_cost(small: RowCount, big: RowCount, what: str) -> None:
    """The same statements and the same number of rows fetched at both sizes."""
    if (len(small.statements), small.total) != (len(big.statements), big.total):
        raise AssertionError(
            f"{what}: {len(small.statements)} queries / {small.total} rows for {SMALL} "
            f"projects, {len(big.statements)} queries / {big.total} rows for {BIG}.\n"
            f"--- {SMALL}\n{small.report()}\n--- {BIG}\n{big.report()}"
        )


def cost(chain: Chain, n: int, request) -> RowCount:
    """Build a portfolio of n projects, make `request()` once to warm up, then measure it;
    everything is rolled back afterwards."""
    with transaction.atomic():
        build(chain, n)
        request()
        with count_rows() as fetched:
            request()
        transaction.set_rollback(True)
    return fetched


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def get_ok(client, url, **headers):
    def request():
        response = client.get(url, **headers)
        assert response.status_code == 200, response.content[:500]
        return response

    return request


def test_the_dashboard_costs_the_same_for_2_and_200_projects(chain, viewer):
    client = signed_in(viewer)
    request = get_ok(client, reverse("alignment:dashboard"))

    small, big = cost(chain, SMALL, request), cost(chain, BIG, request)

    assert_same_cost(small, big, "dashboard")
    assert len(small.statements) <= 12, small.report()


def test_the_summary_api_costs_the_same_for_2_and_200_projects(chain, viewer):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(viewer)}")
    request = get_ok(client, "/api/alignment/summary/")

    small, big = cost(chain, SMALL, request), cost(chain, BIG, request)

    assert_same_cost(small, big, "summary API")
    assert len(small.statements) <= 8, small.report()


def _first_linked_project(chain: Chain) -> CRMProject:
    return CRMProject.objects.filter(links__crm_strategy=chain.crm).order_by("pk").first()


MAP_BRANCHES = {
    "first screen": lambda chain: reverse("alignment:map"),
    "goal": lambda chain: strategy_map.branch_url("goal", chain.goal.pk),
    "business strategy": lambda chain: strategy_map.branch_url(
        "business_strategy", chain.business.pk
    ),
    "CRM strategy": lambda chain: strategy_map.branch_url("crm_strategy", chain.crm.pk),
    "loose CRM strategy": lambda chain: strategy_map.branch_url("crm_strategy", chain.loose_crm.pk),
    "project": lambda chain: strategy_map.branch_url(
        "project", _first_linked_project(chain).pk, crm=chain.crm.pk
    ),
    "visual map": lambda chain: reverse("alignment:map_flow"),
    "visual map, a CRM strategy opened": lambda chain: (
        reverse("alignment:map_flow") + f"?crm={chain.crm.pk}"
    ),
    "not traced projects": lambda chain: reverse("alignment:map_not_traced"),
    "not traced features": lambda chain: reverse("alignment:map_not_traced_features"),
}


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize("branch", list(MAP_BRANCHES))
def test_each_part_of_the_map_costs_the_same_for_2_and_200_projects(
    chain, viewer, monkeypatch, branch, htmx
):
    """Pages of one child (and one row on the not-traced lists) so that both sizes fill a
    page: what is measured is that nothing beyond the page is read."""
    from alignment import views

    monkeypatch.setattr(strategy_map, "MAP_PAGE_SIZE", 1)
    monkeypatch.setattr(views, "MAP_LIST_PAGE", 1)
    client = signed_in(viewer)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}

    def request():
        return get_ok(client, MAP_BRANCHES[branch](chain), **headers)()

    small, big = cost(chain, SMALL, request), cost(chain, BIG, request)

    assert_same_cost(small, big, f"map: {branch}")
    # The visual map with a CRM strategy opened is its first screen and that branch at once;
    # the header's unread notifications count is one more.
    assert len(small.statements) <= (12 if "opened" in branch else 10), small.report()


PORTFOLIO_TABLES = [m._meta.db_table for m in (CRMProject, Feature, FeatureLink, ProjectLink)]


@pytest.mark.parametrize("page", ["dashboard", "summary"])
def test_the_dashboard_and_the_summary_read_no_project_or_feature_table(chain, viewer, page):
    """They read what the last full scan recorded (plus the flags), not the portfolio."""
    if page == "summary":
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(viewer)}")
        request = get_ok(client, "/api/alignment/summary/")
    else:
        request = get_ok(signed_in(viewer), reverse("alignment:dashboard"))

    measured = cost(chain, SMALL, request)

    touching = [s.sql for s in measured.statements if any(t in s.sql for t in PORTFOLIO_TABLES)]
    assert touching == []


def test_the_visual_map_reads_no_project_or_feature_table_until_a_branch_is_opened(chain, viewer):
    """Goals, strategies, their health and the money come from the strategy catalogue and
    the last full scan's snapshot; only an opened CRM strategy reads (a page of) projects."""
    measured = cost(chain, SMALL, get_ok(signed_in(viewer), reverse("alignment:map_flow")))

    touching = [s.sql for s in measured.statements if any(t in s.sql for t in PORTFOLIO_TABLES)]
    assert touching == []
    assert len(measured.statements) <= 10, measured.report()


def test_the_measurement_sees_the_portfolio_it_built(chain):
    """The cost tests measure what they claim: the portfolio exists while they measure."""
    seen = []
    cost(chain, 3, lambda: seen.append(CRMProject.objects.count()))
    assert seen == [4, 4]  # with the one that is always there
    assert CRMProject.objects.count() == 1  # and the three are gone afterwards
