"""Lists cost the page, not the portfolio: the flag inbox, the project lists, the CRM strategy
list and their API lists run the same queries AND fetch the same number of rows at 2 and at
200 projects (with their features, CRM strategies, flags, 200 managers and 200 departments), a
page being 2 rows; so do the project form and a project list filtered by department.

Counting rows catches what counting queries cannot: a `<select>` of every manager or every
department, or a list read whole and cut to a page in Python."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alignment.models import Flag
from projects.models import CRMProject, Department
from tests.factories import (
    CRMStrategyFactory,
    DepartmentFactory,
    FeatureFactory,
    FeatureLinkFactory,
    ProjectFactory,
    ProjectLinkFactory,
    UserFactory,
)
from tests.rows import count_rows

pytestmark = pytest.mark.django_db

PAGE = 2  # rows per page: no more than the small portfolio has

LISTS = {
    "flag inbox": lambda: reverse("alignment:flags"),
    "flag inbox by rule": lambda: f"{reverse('alignment:flags')}?group=rule",
    "flag inbox by project": lambda: f"{reverse('alignment:flags')}?group=project",
    "a rule's flags in the inbox": lambda: (
        f"{reverse('alignment:flags')}?group=rule&open=project.no_roadmap"
    ),
    "/api/flags/": lambda: f"/api/flags/?page_size={PAGE}",
    "project list": lambda: reverse("projects:list"),
    "my projects": lambda: reverse("projects:mine"),
    "/api/projects/": lambda: f"/api/projects/?page_size={PAGE}",
    "/api/features/": lambda: f"/api/features/?page_size={PAGE}",
    "CRM strategy list": lambda: reverse("strategies:list"),
    "/api/crm-strategies/": lambda: f"/api/crm-strategies/?page_size={PAGE}",
    # Goals and business strategies show each row's health and counts over its projects.
    "goal list": lambda: reverse("goals:list"),
    "/api/goals/": lambda: f"/api/goals/?page_size={PAGE}",
    "/api/business-strategies/": lambda: f"/api/business-strategies/?page_size={PAGE}",
}


@pytest.fixture(autouse=True)
def _small_pages(monkeypatch):
    monkeypatch.setattr("core.views.PAGE_SIZE", PAGE)
    monkeypatch.setattr("alignment.views.FLAGS_PER_PAGE", PAGE)


def _grow(n: int, sponsor, anchored, *, own_strategies: bool = True) -> None:
    """n more projects, each with its own manager and department, a link to an anchored CRM
    strategy and (`own_strategies`) to a CRM strategy of its own, serving a business strategy
    and goal of its own, a linked feature and an open flag."""
    now = timezone.now()
    for _ in range(n):
        manager = UserFactory(roles=["project_manager"])
        project = ProjectFactory(manager=manager, sponsor=sponsor, department=DepartmentFactory())
        ProjectLinkFactory(project=project, crm_strategy=anchored)
        if own_strategies:
            ProjectLinkFactory(project=project, crm_strategy=CRMStrategyFactory())
        FeatureLinkFactory(feature=FeatureFactory(project=project), crm_strategy=anchored)
        Flag.objects.create(
            rule="project.no_roadmap",
            severity="warning",
            subject_type="project",
            subject_id=project.pk,
            subject_label=project.title,
            project=project,
            message="Plan it.",
            first_seen=now,
            last_seen=now,
        )


def _cost(client, url: str):
    client.get(url)  # warm up: sessions, content types
    with CaptureQueriesContext(connection) as queries, count_rows() as rows:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries), rows


def _assert_not_grown(client, pages, small):
    """Each page costs what it cost when `small` was measured: queries and rows fetched."""
    grown = []
    for name, url in pages.items():
        queries, rows = _cost(client, url())
        small_queries, small_rows = small[name]
        if (queries, rows.total) != (small_queries, small_rows.total):
            grown.append(
                f"{name}: {small_queries} → {queries} queries, "
                f"{small_rows.total} → {rows.total} rows\n{rows.report()}"
            )
    assert not grown, "\n\n".join(grown)


def test_every_list_costs_the_same_at_2_and_at_200_projects(client, sponsor, chain_crm):
    # The sponsor sponsors every project, so "my projects" grows with the portfolio too.
    client.force_login(sponsor)
    _grow(2, sponsor, chain_crm)
    small = {name: _cost(client, url()) for name, url in LISTS.items()}

    _grow(198, sponsor, chain_crm)
    assert get_user_model().objects.count() > 200
    assert Department.objects.count() == 200

    _assert_not_grown(client, LISTS, small)


def test_the_project_form_and_the_department_filter_cost_the_same_at_2_and_200_departments(
    client, pm
):
    """The project form's department and the list's department filter are pickers: neither
    reads every department (10,000 of them at 100,000 projects), whichever way it is given."""
    client.force_login(pm)
    sales = DepartmentFactory(name="Sales")
    project = ProjectFactory(manager=pm, department=sales)
    DepartmentFactory()
    pages = {
        "new project form": lambda: reverse("projects:create"),
        "project edit form": lambda: reverse("projects:edit", args=[project.pk]),
        "project list": lambda: reverse("projects:list"),
        "projects of a department, by name": lambda: f"{reverse('projects:list')}?department=sales",
        "projects of a department, by id": lambda: (
            f"{reverse('projects:list')}?department={sales.pk}"
        ),
        "an unknown department": lambda: f"{reverse('projects:list')}?department=nowhere",
    }
    assert Department.objects.count() == 2
    small = {name: _cost(client, url()) for name, url in pages.items()}

    for _ in range(198):
        DepartmentFactory()
    assert Department.objects.count() == 200

    _assert_not_grown(client, pages, small)


@pytest.fixture
def chain_crm(executive):
    from tests.factories import BusinessStrategyFactory, GoalFactory

    business = BusinessStrategyFactory(goal=GoalFactory(owner=executive), owner=executive)
    return CRMStrategyFactory(owner=executive, serves=[business])


def test_the_strategy_and_goal_pages_cost_the_same_at_2_and_at_200_projects(
    client, sponsor, chain_crm, monkeypatch
):
    """A CRM strategy's, a business strategy's and a goal's page show their first projects and
    link to the project list for the rest: the same queries and rows whatever their number."""
    monkeypatch.setattr("projects.templatetags.project_panels.PANEL_PROJECTS", PAGE)
    client.force_login(sponsor)
    business = chain_crm.business_strategies.get()
    pages = {
        "CRM strategy page": lambda: reverse("strategies:crm_detail", args=[chain_crm.pk]),
        "business strategy page": lambda: reverse("strategies:business_detail", args=[business.pk]),
        "goal page": lambda: reverse("goals:detail", args=[business.goal_id]),
    }
    _grow(2, sponsor, chain_crm)
    small = {name: _cost(client, url()) for name, url in pages.items()}

    _grow(198, sponsor, chain_crm)
    _assert_not_grown(client, pages, small)
    page = client.get(pages["business strategy page"]()).content.decode()
    assert f"The first {PAGE} of 200 projects, by title." in page
    assert f"?business_strategy={business.pk}" in page
    page = client.get(pages["CRM strategy page"]()).content.decode()
    assert f"The first {PAGE} of 200 projects, by title." in page
    assert f"?crm_strategy={chain_crm.pk}" in page


def test_the_strategy_catalogue_lists_cost_the_same_at_2_and_at_200_projects(
    client, sponsor, chain_crm
):
    """The goal and business strategy lists (pages and API) show each row's health and counts
    over its projects: the same queries and rows however many projects there are. (The
    business strategy list's filter offers every goal, so it grows with the goals, which the
    test above adds with each project: a catalogue, not the portfolio.)"""
    client.force_login(sponsor)
    pages = {
        "goal list": lambda: reverse("goals:list"),
        "/api/goals/": lambda: "/api/goals/",
        "business strategy list": lambda: reverse("strategies:business_list"),
        "/api/business-strategies/": lambda: "/api/business-strategies/",
    }
    _grow(2, sponsor, chain_crm, own_strategies=False)
    small = {name: _cost(client, url()) for name, url in pages.items()}

    _grow(198, sponsor, chain_crm, own_strategies=False)

    _assert_not_grown(client, pages, small)
    assert CRMProject.objects.filter(links__crm_strategy=chain_crm).count() == 200


def test_count_rows_counts_what_a_query_fetches(db):
    for _ in range(3):
        UserFactory()
    users = get_user_model().objects
    with count_rows() as rows:
        list(users.all())
    assert rows.total == 3
    with count_rows() as rows:
        users.first()
        users.count()
        list(users.iterator(chunk_size=2))
    assert [s.rows for s in rows.statements] == [1, 1, 3]


# Lists whose rows carry figures computed from links (traceability, anchoring, counts).
LINK_TABLES = ("projects_projectlink", "projects_featurelink", "strategies_crmstrategyserves")
FIGURED = {
    "project list": lambda: reverse("projects:list"),
    "/api/projects/": lambda: "/api/projects/",
    "/api/features/": lambda: "/api/features/",
    "CRM strategy list": lambda: reverse("strategies:list"),
    "/api/crm-strategies/": lambda: "/api/crm-strategies/",
}


@pytest.mark.parametrize("name", sorted(FIGURED))
def test_figures_from_links_are_computed_for_the_rows_on_the_page_only(
    client, sponsor, chain_crm, name
):
    """Every statement that reads links is narrowed to the page's rows (`… IN (ids)`, or a
    statement kept compiled: `= ANY(ids)`, SQLite's `IN (SELECT … json_each(ids))`): none
    evaluates traceability or counts over the whole table to fill a page."""
    client.force_login(sponsor)
    _grow(3, sponsor, chain_crm)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(FIGURED[name]()).status_code == 200
    reading_links = [q["sql"] for q in queries if any(t in q["sql"] for t in LINK_TABLES)]
    assert reading_links, "the list shows no figure from links any more?"
    unbounded = [sql for sql in reading_links if " IN (" not in sql and "= ANY(" not in sql]
    assert not unbounded, "\n\n".join(unbounded)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("query", "index"),
    [("", "flag_unresolved_inbox"), ("state=open", "flag_state_inbox")],
)
def test_postgresql_reads_the_inbox_page_from_an_index_in_its_order(sponsor, query, index):
    """The inbox's default order (worst first, newest first within a severity) is an index's
    order: with sorting priced out, the plan is an index scan and no Sort — one page read, not
    every unresolved flag sorted."""
    from django.http import QueryDict

    from alignment.filters import FlagFilterSet
    from alignment.selectors import flags_visible_to

    _grow(3, sponsor, CRMStrategyFactory())
    page = FlagFilterSet(QueryDict(query), flags_visible_to(sponsor)).qs[:25]
    sql, params = page.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Index Scan using {index} on alignment_flag" in plan, plan
    assert "Sort" not in plan, plan
