"""The Export buttons of the goals, projects and flags lists: CSV of the list as filtered and
sorted on the page (the same FilterSet), streamed, formula-safe, at a fixed number of queries;
and the workbook."""

import csv
import io

import pytest
from django.utils import timezone

from alignment import engine
from alignment.models import Flag, FlagState
from goals.models import GoalStatus
from projects.models import ProjectStatus
from tests.factories import (
    CRMStrategyFactory,
    FeatureFactory,
    GoalFactory,
    KPIFactory,
    ProjectFactory,
    ProjectLinkFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_user(client):
    """as_user(user) → the test client signed in as that user."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def _csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def _page_ids(client, url) -> list[int]:
    response = client.get(url)
    assert response.status_code == 200
    return [obj.pk for obj in response.context["page_obj"]]


@pytest.fixture
def goals(executive):
    made = [
        GoalFactory(title="Beta goal", status=GoalStatus.ACTIVE, priority=2, owner=executive),
        GoalFactory(title="Alpha goal", status=GoalStatus.ACTIVE, priority=1, owner=executive),
        GoalFactory(title="Draft goal", status=GoalStatus.DRAFT, priority=3),
    ]
    KPIFactory(goal=made[0])
    return made


@pytest.mark.parametrize(
    "query", ["", "status=active", "status=active&ordering=-title", "ordering=priority"]
)
def test_the_goals_csv_lists_the_goals_of_the_filtered_page_in_its_order(
    as_user, viewer, goals, query
):
    client = as_user(viewer)

    rows = _csv(client.get(f"/export/goals.csv?{query}"))

    assert [int(row["id"]) for row in rows] == _page_ids(client, f"/goals/?{query}")
    beta = next(row for row in rows if row["title"] == "Beta goal")
    assert (beta["status"], beta["owner"], beta["kpis"]) == ("active", "exec", "1")


def test_a_refused_filter_lists_as_the_page_does(as_user, viewer, goals):
    client = as_user(viewer)

    rows = _csv(client.get("/export/goals.csv?status=bogus"))

    assert [int(row["id"]) for row in rows] == _page_ids(client, "/goals/?status=bogus")
    assert len(rows) == 3


def test_the_projects_csv_follows_the_filters_and_shows_traceability(as_user, sponsor, pm):
    linked = ProjectFactory(title="Linked", manager=pm, status=ProjectStatus.ACTIVE)
    ProjectLinkFactory(project=linked, crm_strategy=CRMStrategyFactory())
    FeatureFactory(project=linked)
    ProjectFactory(title="Loose", manager=pm)
    ProjectFactory(title="Someone else's")
    client = as_user(sponsor)

    for query in ["", "manager=pm", "is_linked=true", "is_traceable=false&ordering=-title"]:
        rows = _csv(client.get(f"/export/projects.csv?{query}"))
        assert [int(row["id"]) for row in rows] == _page_ids(client, f"/projects/?{query}"), query

    rows = {row["title"]: row for row in _csv(client.get("/export/projects.csv"))}
    assert rows["Linked"]["linked"] == "yes" and rows["Loose"]["linked"] == "no"
    assert rows["Linked"]["features"] == "1"
    assert rows["Linked"]["manager"] == "pm" and rows["Linked"]["budget_total"] == "1500.00"


def test_the_flags_csv_lists_the_inbox_as_filtered(as_user, pm):
    for n in range(3):
        ProjectFactory(title=f"Untraced {n}", manager=pm, sponsor=None)
    engine.scan_full()
    resolved = Flag.objects.filter(rule="project.untraced").first()
    Flag.objects.filter(pk=resolved.pk).update(state=FlagState.RESOLVED, resolved_at=timezone.now())
    client = as_user(pm)

    for query in ["", "state=all", "rule=project.no_sponsor", "severity=critical&ordering=rule"]:
        rows = _csv(client.get(f"/export/flags.csv?{query}"))
        page = client.get(f"/alignment/flags/?{query}").context["page_obj"]
        assert [int(row["id"]) for row in rows] == [flag.pk for flag in page], query

    default_ids = {int(row["id"]) for row in _csv(client.get("/export/flags.csv"))}
    assert resolved.pk not in default_ids  # unresolved only, as the inbox by default


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t"])
def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_quoted(as_user, viewer, executive, start):
    GoalFactory(title=f'{start}HYPERLINK("http://example.com","click")', owner=executive)

    row = _csv(as_user(viewer).get("/export/goals.csv"))[0]

    assert row["title"] == f'\'{start}HYPERLINK("http://example.com","click")'


def test_plain_text_and_numbers_are_left_alone(as_user, viewer, executive):
    GoalFactory(title="Grow revenue - while keeping margin", owner=executive, description="")

    row = _csv(as_user(viewer).get("/export/goals.csv"))[0]

    assert row["title"] == "Grow revenue - while keeping margin"
    assert row["business_strategies"] == "0"


@pytest.mark.parametrize(
    ("url", "make"),
    [
        ("/export/goals.csv", lambda n: [GoalFactory() for _ in range(n)]),
        (
            "/export/projects.csv",
            lambda n: [
                ProjectLinkFactory(project=ProjectFactory(), crm_strategy=CRMStrategyFactory())
                for _ in range(n)
            ],
        ),
        ("/export/flags.csv", lambda n: [ProjectFactory(sponsor=None) for _ in range(n)]),
    ],
)
def test_a_csv_export_costs_the_same_for_3_and_40_rows(
    as_user, viewer, url, make, django_assert_max_num_queries
):
    client = as_user(viewer)
    make(3)
    engine.scan_full()
    small = _csv(client.get(url))
    with django_assert_max_num_queries(12) as few:
        _csv(client.get(url))
    make(37)
    engine.scan_full()
    with django_assert_max_num_queries(len(few.captured_queries)):
        large = _csv(client.get(url))
    assert len(large) > len(small)


def test_the_list_pages_link_their_csv_with_the_current_filters_and_the_workbook(
    as_user, viewer, goals
):
    client = as_user(viewer)
    for page, csv_url in [
        ("/goals/?status=active&page=1", "/export/goals.csv?status=active"),
        ("/projects/?manager=pm", "/export/projects.csv?manager=pm"),
        ("/alignment/flags/?state=all", "/export/flags.csv?state=all"),
    ]:
        html = client.get(page).content.decode()
        assert f'href="{csv_url}"' in html, page
        assert 'href="/export/portfolio.xlsx"' in html, page
