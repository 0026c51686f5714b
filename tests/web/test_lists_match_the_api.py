"""One FilterSet per resource: a list page and its API endpoint take the same query string and
list the same rows in the same order, refuse the same values (the page says why next to the
field and lists as if the value were absent; the API answers 400 naming the parameter), and
stay at a fixed number of queries whatever the filters."""

import re
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alignment.models import Flag, FlagState
from goals.models import GoalStatus
from projects.models import ProjectStatus
from strategies.models import StrategyStatus
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    DepartmentFactory,
    FeatureFactory,
    FeatureLinkFactory,
    GoalFactory,
    KPIFactory,
    ProjectFactory,
    ProjectLinkFactory,
)

pytestmark = pytest.mark.django_db

# resource → (its list page, its API list)
LISTS = {
    "goals": ("/goals/", "/api/goals/"),
    "business strategies": ("/strategies/business/", "/api/business-strategies/"),
    "crm strategies": ("/strategies/", "/api/crm-strategies/"),
    "projects": ("/projects/", "/api/projects/"),
    "flags": ("/alignment/flags/", "/api/flags/"),
}


def make_flag(project, rule, severity, state=FlagState.OPEN, **fields):
    now = timezone.now()
    values = {
        "subject_type": "project",
        "subject_id": project.pk,
        "subject_label": project.title,
        "first_seen": now,
        "last_seen": now,
        "message": "Do something.",
    }
    values.update(fields)
    return Flag.objects.create(rule=rule, severity=severity, state=state, project=project, **values)


@pytest.fixture
def portfolio(executive, pm, other_pm, sponsor):
    """A little of everything each filter can tell apart."""
    alpha = GoalFactory(title="Alpha goal", priority=1, owner=executive)
    beta = GoalFactory(title="Beta goal", priority=3, status=GoalStatus.DRAFT)
    GoalFactory(title="Gamma goal", priority=2, status=GoalStatus.RETIRED)
    emerging = BusinessStrategyFactory(goal=alpha, title="Emerging markets")
    old = BusinessStrategyFactory(goal=alpha, title="Old markets", status=StrategyStatus.RETIRED)
    BusinessStrategyFactory(goal=beta, title="Draft plan", status=StrategyStatus.DRAFT)
    anchored = CRMStrategyFactory(title="Enable partners", serves=[emerging])
    stranded = CRMStrategyFactory(title="Legacy tool", serves=[old])
    CRMStrategyFactory(title="Floating idea", serves=[], status=StrategyStatus.DRAFT)
    sales, it = DepartmentFactory(name="Sales"), DepartmentFactory(name="IT", is_it=True)
    traced = ProjectFactory(
        title="Partner portal",
        manager=pm,
        sponsor=sponsor,
        department=sales,
        status=ProjectStatus.ACTIVE,
        budget_technology=Decimal("5000"),
    )
    ProjectLinkFactory(project=traced, crm_strategy=anchored)
    broken = ProjectFactory(
        title="Key accounts",
        manager=other_pm,
        department=it,
        budget_technology=Decimal("100"),
    )
    ProjectLinkFactory(project=broken, crm_strategy=stranded)
    loose = ProjectFactory(
        title="Mobile app",
        manager=pm,
        sponsor=sponsor,
        department=it,
        status=ProjectStatus.ON_HOLD,
        budget_technology=Decimal("900"),
    )
    feature = FeatureFactory(project=traced, title="Deal registration")
    make_flag(traced, "project.no_roadmap", "warning")
    make_flag(traced, "project.no_success_metrics", "warning", FlagState.ACKNOWLEDGED)
    make_flag(
        traced,
        "feature.untraced",
        "warning",
        subject_type="feature",
        subject_id=feature.pk,
        subject_label=feature.title,
    )
    make_flag(broken, "project.broken_chain", "critical")
    make_flag(
        loose,
        "project.untraced",
        "critical",
        FlagState.WAIVED,
        waiver_reason="Starts next quarter.",
        waiver_expires_at=timezone.now() + timezone.timedelta(days=30),
    )
    make_flag(
        loose, "project.no_sponsor", "critical", FlagState.RESOLVED, resolved_at=timezone.now()
    )
    return {
        "alpha": alpha,
        "executive": executive,
        "anchored": anchored,
        "emerging": emerging,
        "pm": pm,
        "it": it,
        "traced": traced,
    }


# (resource, query); "{name}" in a value is the id of portfolio[name].
CASES = [
    ("goals", {}),
    ("goals", {"status": "active"}),
    ("goals", {"priority": "3"}),
    ("goals", {"owner": "{executive}"}),
    ("goals", {"ordering": "-title"}),
    ("goals", {"status": "active", "ordering": "business_strategy_count"}),
    ("business strategies", {}),
    ("business strategies", {"goal": "{alpha}"}),
    ("business strategies", {"status": "retired"}),
    ("business strategies", {"ordering": "-crm_strategy_count"}),
    ("crm strategies", {}),
    ("crm strategies", {"is_anchored": "true"}),
    ("crm strategies", {"is_anchored": "false"}),
    ("crm strategies", {"status": "draft"}),
    ("crm strategies", {"goal": "{alpha}"}),
    ("crm strategies", {"ordering": "-project_count"}),
    ("projects", {}),
    ("projects", {"is_traceable": "true"}),
    ("projects", {"is_traceable": "false"}),
    ("projects", {"is_linked": "1"}),
    ("projects", {"status": "on_hold"}),
    ("projects", {"manager": "{pm}"}),
    ("projects", {"department": "{it}"}),
    ("projects", {"crm_strategy": "{anchored}"}),
    ("projects", {"business_strategy": "{emerging}"}),
    ("projects", {"ordering": "-budget_total"}),
    ("projects", {"ordering": "is_traceable"}),
    ("projects", {"ordering": "manager,-title"}),
    ("flags", {}),
    ("flags", {"state": "all"}),
    ("flags", {"state": "resolved"}),
    ("flags", {"state": "waived"}),
    ("flags", {"severity": "critical"}),
    ("flags", {"rule": "project.no_roadmap"}),
    ("flags", {"subject_type": "feature"}),
    ("flags", {"project": "{traced}"}),
    ("flags", {"mine": "true"}),
    ("flags", {"mine": "false", "state": "all"}),
    ("flags", {"ordering": "subject"}),
    ("flags", {"ordering": "-severity"}),
]


def resolve(query, portfolio):
    return {
        key: (str(portfolio[value[1:-1]].pk) if value.startswith("{") else value)
        for key, value in query.items()
    }


def page_ids(client, url, query):
    response = client.get(url, query)
    assert response.status_code == 200
    return [row.pk for row in response.context["page_obj"]]


def api_ids(client, url, query):
    response = client.get(url, {**query, "page_size": 200})
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


@pytest.mark.parametrize(
    ("resource", "query"), CASES, ids=[f"{r}?{urlencode(q)}" for r, q in CASES]
)
def test_the_page_and_the_api_list_the_same_rows_for_the_same_query(
    client, sponsor, portfolio, resource, query
):
    page, api = LISTS[resource]
    query = resolve(query, portfolio)
    client.force_login(sponsor)

    listed = page_ids(client, page, query)

    assert listed == api_ids(client, api, query)
    assert listed, "the case should list something to compare"


@pytest.mark.parametrize("resource", sorted(LISTS))
def test_every_column_header_sorts_the_page_as_the_api_sorts(client, sponsor, portfolio, resource):
    page, api = LISTS[resource]
    client.force_login(sponsor)
    html = client.get(page).content.decode()
    offered = set(re.findall(r'class="sort-link[^"]*" href="\?ordering=(-?[a-z_]+)"', html))

    assert offered, "the page offers no sortable column headers"
    for ordering in offered:
        for key in (ordering, f"-{ordering.lstrip('-')}"):
            query = {"ordering": key}
            assert page_ids(client, page, query) == api_ids(client, api, query), key


def test_flags_leave_the_resolved_out_by_default_on_the_inbox_and_the_api(
    client, sponsor, portfolio
):
    client.force_login(sponsor)
    unresolved = set(Flag.objects.exclude(state=FlagState.RESOLVED).values_list("pk", flat=True))

    assert set(page_ids(client, "/alignment/flags/", {})) == unresolved
    assert set(api_ids(client, "/api/flags/", {})) == unresolved
    assert len(api_ids(client, "/api/flags/", {"state": "all"})) == Flag.objects.count()


def test_a_resolved_flag_is_still_found_by_id_on_the_api(client, sponsor, portfolio):
    resolved = Flag.objects.get(state=FlagState.RESOLVED)
    client.force_login(sponsor)

    response = client.get(f"/api/flags/{resolved.pk}/")

    assert response.status_code == 200
    assert response.json()["state"] == "resolved"


# (resource, parameter, refused value)
REFUSED = [
    ("goals", "status", "finished"),
    ("goals", "priority", "9"),
    ("goals", "ordering", "password"),
    ("business strategies", "goal", "abc"),
    ("business strategies", "status", "ACTIVE"),
    ("crm strategies", "is_anchored", "maybe"),
    ("crm strategies", "ordering", "-owner__password"),
    ("projects", "is_traceable", "yes"),
    ("projects", "manager", "99999999"),
    ("projects", "department", "x"),
    ("projects", "ordering", "budget,title"),
    ("flags", "state", "closed"),
    ("flags", "severity", "nope"),
    ("flags", "rule", "drop table"),
    ("flags", "mine", "on"),
    ("flags", "project", "-3"),
    ("flags", "ordering", "drop table"),
]


@pytest.mark.parametrize(
    ("resource", "name", "value"), REFUSED, ids=[f"{r}?{n}={v}" for r, n, v in REFUSED]
)
def test_a_refused_value_is_an_error_on_the_page_and_a_400_on_the_api(
    client, sponsor, portfolio, resource, name, value
):
    page, api = LISTS[resource]
    client.force_login(sponsor)

    response = client.get(page, {name: value})
    html = response.content.decode()
    api_response = client.get(api, {name: value})

    assert response.status_code == 200
    # The message is next to its field (a hidden field's right after it).
    assert re.search(rf'id="id_{name}_error"[^>]*>\s*<li>[^<]+: [^<]+</li>', html), html
    assert page_ids(client, page, {name: value}) == page_ids(client, page, {})
    assert api_response.status_code == 400
    assert list(api_response.json()) == [name]


def test_the_manager_select_offers_only_people_who_manage_a_project(
    client, viewer, pm, other_pm, sponsor
):
    ProjectFactory(manager=pm, sponsor=sponsor)
    client.force_login(viewer)

    form = client.get("/projects/").context["filterset"].form

    assert list(form.fields["manager"].queryset) == [pm]
    assert client.get("/api/projects/", {"manager": other_pm.pk}).status_code == 400


# --- Query counts: the same for 2 rows as for 50, with filters applied.


def _goal(ctx):
    goal = GoalFactory(priority=1, owner=ctx["executive"])
    KPIFactory(goal=goal)
    BusinessStrategyFactory(goal=goal)


def _business_strategy(ctx):
    CRMStrategyFactory(serves=[BusinessStrategyFactory(goal=ctx["goal"])])


def _crm_strategy(ctx):
    crm = CRMStrategyFactory(serves=[ctx["business"]])
    ProjectLinkFactory(crm_strategy=crm)


def _project(ctx):
    project = ProjectFactory(manager=ctx["pm"], department=ctx["department"])
    ProjectLinkFactory(project=project, crm_strategy=ctx["crm"])
    FeatureLinkFactory(feature=FeatureFactory(project=project), crm_strategy=ctx["crm"])


def _flag(ctx):
    project = ProjectFactory(sponsor=ctx["sponsor"])
    make_flag(project, "project.untraced", "critical")
    make_flag(project, "project.no_roadmap", "warning", FlagState.ACKNOWLEDGED)


FILTERED = {
    "goals": (_goal, {"status": "active", "priority": "1", "owner": "{executive}"}),
    "business strategies": (
        _business_strategy,
        {"goal": "{goal}", "status": "active", "ordering": "-crm_strategy_count"},
    ),
    "crm strategies": (
        _crm_strategy,
        {"is_anchored": "true", "goal": "{goal}", "ordering": "-project_count"},
    ),
    "projects": (
        _project,
        {
            "manager": "{pm}",
            "department": "{department}",
            "is_traceable": "true",
            "crm_strategy": "{crm}",
            "ordering": "-budget_total",
        },
    ),
    "flags": (_flag, {"mine": "true", "severity": "critical", "ordering": "subject"}),
}


@pytest.mark.parametrize("resource", sorted(FILTERED))
@pytest.mark.parametrize("side", ["page", "api"])
def test_filtered_lists_make_the_same_queries_for_2_and_50_rows(
    client, executive, pm, sponsor, django_assert_num_queries, resource, side
):
    goal = GoalFactory()
    business = BusinessStrategyFactory(goal=goal)
    ctx = {
        "executive": executive,
        "pm": pm,
        "sponsor": sponsor,
        "goal": goal,
        "business": business,
        "crm": CRMStrategyFactory(serves=[business]),
        "department": DepartmentFactory(),
    }
    make, query = FILTERED[resource]
    url = LISTS[resource][0 if side == "page" else 1]
    query = {**resolve(query, ctx), **({"page_size": 200} if side == "api" else {})}
    client.force_login(sponsor)
    for _ in range(2):
        make(ctx)
    client.get(url, query)  # warm the session and the content types
    with CaptureQueriesContext(connection) as small:
        response = client.get(url, query)
    assert response.status_code == 200
    for _ in range(48):
        make(ctx)

    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(url, query)

    rows = response.context["page_obj"] if side == "page" else response.json()["results"]
    assert len(rows) >= 25
