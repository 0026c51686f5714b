"""The strategy map through HTTP, a branch at a time: the first screen (goals, business
strategies, CRM strategies serving none, with their health as of the last full scan), each
branch as an htmx fragment and as a page of its own (the no-JavaScript path), pagination,
done projects on request, what does not trace, and who may see it."""

import re

import pytest
from django.urls import reverse

from alignment import engine, strategy_map
from goals.models import GoalStatus
from projects.models import ProjectStatus
from strategies.models import StrategyStatus
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

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def client_for(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def chain(db):
    """G1 → BS1 → A ← P1 (with a feature on A, an untraced one, and one off scope on C),
    P2 (done) on A; G1 → BS2 (nothing serves it); a retired goal G0; C serves nothing;
    P3 links to nothing; P4 links only to a draft CRM strategy D (broken chain)."""
    g1 = GoalFactory(title="G1 Grow revenue")
    g0 = GoalFactory(title="G0 Old goal", status=GoalStatus.RETIRED)
    bs1 = BusinessStrategyFactory(goal=g1, title="BS1 Emerging markets")
    bs2 = BusinessStrategyFactory(goal=g1, title="BS2 Mature markets")
    a = CRMStrategyFactory(title="A Enable local partners", serves=[bs1])
    c = CRMStrategyFactory(title="C A tool, not a strategy", serves=[])
    d = CRMStrategyFactory(title="D Draft idea", serves=[bs1], status=StrategyStatus.DRAFT)
    p1 = ProjectFactory(title="P1 Partner portal")
    ProjectLinkFactory(project=p1, crm_strategy=a, rationale="Partners sell through it.")
    f1 = FeatureFactory(project=p1, title="F1 Partner onboarding")
    FeatureLinkFactory(feature=f1, crm_strategy=a)
    untraced_feature = FeatureFactory(project=p1, title="F2 Gamified leaderboard")
    off_scope = FeatureFactory(project=p1, title="F3 Loyalty scheme")
    FeatureLinkFactory(feature=off_scope, crm_strategy=c)
    p2 = ProjectFactory(title="P2 Old campaign", status=ProjectStatus.DONE)
    ProjectLinkFactory(project=p2, crm_strategy=a, rationale="Was useful.")
    p3 = ProjectFactory(title="P3 Shiny dashboard")
    p4 = ProjectFactory(title="P4 Draft pilot")
    ProjectLinkFactory(project=p4, crm_strategy=d)
    return {
        "g1": g1,
        "g0": g0,
        "bs1": bs1,
        "bs2": bs2,
        "a": a,
        "c": c,
        "d": d,
        "p1": p1,
        "p2": p2,
        "p3": p3,
        "p4": p4,
        "f1": f1,
        "untraced_feature": untraced_feature,
        "off_scope": off_scope,
    }


def url(kind, obj, **query):
    return strategy_map.branch_url(kind, obj.pk, **query)


# --- The first screen --------------------------------------------------------------------------


def test_first_screen_shows_goals_and_business_strategies_with_their_health(
    client_for, viewer, chain
):
    engine.scan_full()

    html = client_for(viewer).get(reverse("alignment:map")).content.decode()

    chain_part, loose_part = html.split('id="not-traced"')
    assert chain_part.index("G1 Grow revenue") < chain_part.index("G0 Old goal")  # active first
    for title in ("BS1 Emerging markets", "BS2 Mature markets"):
        assert title in chain_part
    # BS1: P1 (traces) and P4 (through the draft D: does not) → 2 projects, 50% trace.
    bs1 = re.search(
        rf'data-kind="business_strategy" data-id="{chain["bs1"].pk}".*?data-health="([^"]*)"',
        chain_part,
        re.DOTALL,
    )
    assert bs1.group(1).startswith("2/1/")
    assert "2 projects · 50% trace" in chain_part
    # Projects and features load with their branch: not on the first screen.
    assert "P1 Partner portal" not in html and "F1 Partner onboarding" not in html
    assert "<details open><summary>" in chain_part
    # The CRM strategy that serves nothing hangs loose, as a branch of its own.
    assert "C A tool, not a strategy" in loose_part
    assert "map-node--loose" in loose_part
    assert 'data-untraced="projects">(2 live' in loose_part  # P3, P4
    assert "Counts per goal and strategy" in html and "as of the full scan at" in html


def test_first_screen_before_any_scan_shows_the_chain_and_says_it_is_not_counted(
    client_for, viewer, chain
):
    html = client_for(viewer).get(reverse("alignment:map")).content.decode()

    assert "BS1 Emerging markets" in html
    assert "No full scan has counted the portfolio yet" in html
    assert "not counted yet" in html
    assert "data-untraced" not in html


def test_each_closed_branch_loads_with_htmx_and_links_to_its_own_page(client_for, viewer, chain):
    html = client_for(viewer).get(reverse("alignment:map")).content.decode()

    bs1_url = url("business_strategy", chain["bs1"])
    assert f'<div class="map-load" data-branch-url="{bs1_url}">' in html  # for map.js
    assert "alignment/map.js" in html
    assert f'<a href="{bs1_url}">Open this branch</a>' in html  # without JavaScript


def test_a_goal_lists_its_first_business_strategies_and_a_link_to_more(
    client_for, viewer, chain, monkeypatch
):
    monkeypatch.setattr(strategy_map, "MAP_PAGE_SIZE", 1)
    client = client_for(viewer)

    html = client.get(reverse("alignment:map")).content.decode()
    more = chain["g1"]
    more_url = f"{url('goal', more)}?page=2"

    assert "BS1 Emerging markets" in html and "BS2 Mature markets" not in html
    assert f'<li class="map-more"><a href="{more_url}">' in html and "1 more…" in html
    rows = client.get(more_url, **HTMX).content.decode()
    assert "BS2 Mature markets" in rows and "<ul" not in rows.split("<li", 1)[0]


# --- Branches, through htmx and as pages -------------------------------------------------------


def test_a_business_strategy_opens_onto_the_crm_strategies_serving_it(client_for, viewer, chain):
    engine.scan_full()

    fragment = (
        client_for(viewer).get(url("business_strategy", chain["bs1"]), **HTMX).content.decode()
    )

    assert fragment.lstrip().startswith("<ul")
    assert "<html" not in fragment
    assert "A Enable local partners" in fragment and "D Draft idea" in fragment
    assert "map-node--inactive" in fragment  # the draft D does not anchor
    assert f'data-branch-url="{url("crm_strategy", chain["a"])}"' in fragment
    assert "1 project · 100% trace" in fragment  # A: P1 (P2 is done)


def test_a_crm_strategy_opens_onto_its_live_projects_with_rationale_and_feature_figures(
    client_for, viewer, chain
):
    fragment = client_for(viewer).get(url("crm_strategy", chain["a"]), **HTMX).content.decode()

    assert "P1 Partner portal" in fragment and "Partners sell through it." in fragment
    assert "P2 Old campaign" not in fragment  # done: history
    # F1 traces; F2 does not; F3 traces through C? No: C serves nothing. 1 of 3.
    assert "3 features · 33% trace" in fragment
    assert f'data-branch-url="{url("project", chain["p1"], crm=chain["a"].pk)}"' in fragment


def test_done_projects_show_on_request_and_the_branches_keep_asking_for_them(
    client_for, viewer, chain
):
    client = client_for(viewer)

    fragment = client.get(url("crm_strategy", chain["a"], history=True), **HTMX).content.decode()
    first = client.get(reverse("alignment:map") + "?history=on").content.decode()

    assert "P2 Old campaign" in fragment
    assert url("business_strategy", chain["bs1"], history=True) in first
    assert "history=on" in url("business_strategy", chain["bs1"], history=True)


def test_a_project_under_a_crm_strategy_opens_onto_its_features_with_off_scope_marked(
    client_for, viewer, chain
):
    p1, a, c = chain["p1"], chain["a"], chain["c"]
    off_scope_traced = FeatureFactory(project=p1, title="F4 Reseller pricing")
    both = FeatureFactory(project=p1, title="F5 Partner loyalty")
    other_bs = BusinessStrategyFactory(goal=chain["g1"], title="BS3")
    e = CRMStrategyFactory(title="E Key accounts", serves=[other_bs])
    FeatureLinkFactory(feature=off_scope_traced, crm_strategy=e)  # P1 does not serve E
    FeatureLinkFactory(feature=both, crm_strategy=a)
    FeatureLinkFactory(feature=both, crm_strategy=e)

    fragment = client_for(viewer).get(url("project", p1, crm=a.pk), **HTMX).content.decode()

    assert "F1 Partner onboarding" in fragment
    assert "F2 Gamified leaderboard" not in fragment  # serves nothing: not under A
    assert "F3 Loyalty scheme" not in fragment  # off scope but does not trace
    assert "Off scope: serves E Key accounts, which its project does not." in fragment
    assert "Off scope: also serves E Key accounts" in fragment
    assert c.title not in fragment


def test_a_project_from_the_not_traced_list_opens_onto_all_its_features(client_for, viewer, chain):
    fragment = client_for(viewer).get(url("project", chain["p1"]), **HTMX).content.decode()

    for title in ("F1 Partner onboarding", "F2 Gamified leaderboard", "F3 Loyalty scheme"):
        assert title in fragment
    assert "Does not trace to an active goal." in fragment


def test_without_javascript_every_branch_is_a_page_with_its_parent_and_a_way_back(
    client_for, viewer, chain
):
    client = client_for(viewer)
    first = client.get(reverse("alignment:map")).content.decode()
    bs_url = url("business_strategy", chain["bs1"])
    assert f'href="{bs_url}"' in first

    page = client.get(bs_url).content.decode()  # a plain link, no HX-Request

    assert page.startswith("<!doctype html>")
    assert "<h1>Business strategy: BS1 Emerging markets</h1>" in page
    assert f'<a href="{reverse("alignment:map")}">Strategy map</a>' in page
    crm_url = url("crm_strategy", chain["a"])
    assert f'href="{crm_url}"' in page
    crm_page = client.get(crm_url).content.decode()
    assert "P1 Partner portal" in crm_page
    project_url = url("project", chain["p1"], crm=chain["a"].pk)
    assert project_url.replace("&", "&amp;") in crm_page or project_url in crm_page
    assert "F1 Partner onboarding" in client.get(project_url).content.decode()


def test_branch_responses_vary_on_the_htmx_header(client_for, viewer, chain):
    response = client_for(viewer).get(url("crm_strategy", chain["a"]))
    assert "HX-Request" in response["Vary"]


def test_a_long_branch_comes_a_page_at_a_time(client_for, viewer, chain, monkeypatch):
    monkeypatch.setattr(strategy_map, "MAP_PAGE_SIZE", 2)
    for n in range(3):
        ProjectLinkFactory(project=ProjectFactory(title=f"P9{n} Extra"), crm_strategy=chain["a"])
    client = client_for(viewer)
    branch = url("crm_strategy", chain["a"])

    first = client.get(branch, **HTMX).content.decode()
    second = client.get(f"{branch}?page=2", **HTMX).content.decode()
    page = client.get(f"{branch}?page=2").content.decode()

    # P1, P90, P91, P92 by title: two, then two more.
    assert "P1 Partner portal" in first and "P90 Extra" in first and "P91" not in first
    assert f'<li class="map-more"><a href="{branch}?page=2">' in first
    assert "2 more…" in first
    assert second.lstrip().startswith("<li") and "P91 Extra" in second and "P92 Extra" in second
    assert "more…" not in second
    assert "Page 2 of 2" in page and "P91 Extra" in page  # the no-JavaScript pagination


def test_a_page_number_out_of_range_shows_the_last_page(client_for, viewer, chain):
    response = client_for(viewer).get(url("crm_strategy", chain["a"]) + "?page=999")
    assert response.status_code == 200 and b"P1 Partner portal" in response.content


# --- What does not trace ------------------------------------------------------------------------


def test_not_traced_lists_the_projects_that_do_not_trace_with_why(client_for, viewer, chain):
    html = client_for(viewer).get(reverse("alignment:map_not_traced")).content.decode()

    assert "P3 Shiny dashboard" in html and "Linked to no CRM strategy." in html
    assert "P4 Draft pilot" in html and "broken chain" in html
    assert "P1 Partner portal" not in html
    assert f'data-branch-url="{url("project", chain["p3"])}"' in html


def test_not_traced_projects_filter_with_the_projects_filters_and_paginate(
    client_for, viewer, chain, monkeypatch
):
    from alignment import views

    client = client_for(viewer)
    linked = client.get(reverse("alignment:map_not_traced") + "?is_linked=true").content.decode()
    assert "P4 Draft pilot" in linked and "P3 Shiny dashboard" not in linked

    monkeypatch.setattr(views, "MAP_LIST_PAGE", 1)
    first = client.get(reverse("alignment:map_not_traced")).content.decode()
    assert "Page 1" in first and "Next →" in first
    assert "P3 Shiny dashboard" in first and "P4 Draft pilot" not in first


def test_not_traced_features_lists_them_with_their_project(client_for, viewer, chain):
    html = client_for(viewer).get(reverse("alignment:map_not_traced_features")).content.decode()

    assert "F2 Gamified leaderboard" in html and "P1 Partner portal" in html
    assert "F3 Loyalty scheme" in html  # serves only C, which anchors nothing
    assert "F1 Partner onboarding" not in html
    assert 'name="project"' not in html  # no select of every project


def test_not_traced_with_history_includes_done_projects(client_for, viewer, chain):
    ProjectFactory(title="P5 Old untraced", status=ProjectStatus.CANCELLED)
    client = client_for(viewer)

    assert b"P5 Old untraced" not in client.get(reverse("alignment:map_not_traced")).content
    assert (
        b"P5 Old untraced"
        in client.get(reverse("alignment:map_not_traced") + "?history=on").content
    )


# --- Who sees it ---------------------------------------------------------------------------------


def _every_map_url(chain):
    return [
        reverse("alignment:map"),
        url("goal", chain["g1"]),
        url("business_strategy", chain["bs1"]),
        url("crm_strategy", chain["a"]),
        url("project", chain["p1"]),
        url("project", chain["p1"], crm=chain["a"].pk),
        reverse("alignment:map_not_traced"),
        reverse("alignment:map_not_traced_features"),
    ]


@pytest.mark.parametrize("role", ["viewer", "pm", "sponsor", "executive"])
def test_every_role_reads_every_part_of_the_map(request, client_for, role, chain):
    client = client_for(request.getfixturevalue(role))
    for address in _every_map_url(chain):
        assert client.get(address).status_code == 200, address
        assert client.get(address, **HTMX).status_code == 200, address


def test_a_user_without_a_role_sees_no_part_of_the_map(client_for, nobody, chain):
    client = client_for(nobody)
    for address in _every_map_url(chain):
        assert client.get(address).status_code == 404, address
        assert client.get(address, **HTMX).status_code == 404, address


def test_an_anonymous_visitor_is_sent_to_sign_in_from_a_branch(client, chain):
    response = client.get(url("crm_strategy", chain["a"]), **HTMX)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_branch_of_something_that_does_not_exist_is_404(client_for, viewer, chain):
    client = client_for(viewer)
    assert client.get(reverse("alignment:map_crm_strategy", args=[999999])).status_code == 404
    assert client.get(url("project", chain["p1"], crm=999999)).status_code == 404
    assert client.get(url("project", chain["p1"]) + "?crm=abc").status_code == 404


@pytest.mark.parametrize("ordering", ["title", "-feature_count", "budget_total", "manager", "id"])
def test_not_traced_projects_take_the_projects_orderings(client_for, viewer, chain, ordering):
    response = client_for(viewer).get(reverse("alignment:map_not_traced") + f"?ordering={ordering}")
    assert response.status_code == 200 and b"P3 Shiny dashboard" in response.content


# --- The visual map ---------------------------------------------------------------------------


def flow_boxes(html):
    """{(kind, id): (state, the box's first link)} for every box the SVG draws."""
    boxes = {}
    for match in re.finditer(
        r'<g class="flow-node flow-node--(\w+)[^"]*" data-kind="(\w+)" data-id="(\d+)"'
        r'[^>]*>\s*<a href="([^"]+)"',
        html,
    ):
        state, kind, pk, href = match.groups()
        boxes[(kind, int(pk))] = (state, href)
    return boxes


def test_the_visual_map_draws_every_goal_and_strategy_as_a_box_linking_to_its_page(
    chain, client_for, viewer
):
    engine.scan_full()

    html = client_for(viewer).get(reverse("alignment:map_flow")).content.decode()

    boxes = flow_boxes(html)
    for key, kind in (
        ("g1", "goal"),
        ("g0", "goal"),
        ("bs1", "business_strategy"),
        ("bs2", "business_strategy"),
        ("a", "crm_strategy"),
        ("c", "crm_strategy"),
        ("d", "crm_strategy"),
    ):
        _state, href = boxes[(kind, chain[key].pk)]
        assert href == chain[key].get_absolute_url(), key
    assert boxes[("goal", chain["g0"].pk)][0] == "inactive"  # retired: grey, dotted
    assert boxes[("crm_strategy", chain["c"].pk)][0] == "loose"  # active, serves nothing
    assert boxes[("crm_strategy", chain["d"].pk)][0] == "inactive"  # a draft
    assert boxes[("crm_strategy", chain["a"].pk)][0] in ("healthy", "flagged")
    assert not any(kind == "project" for kind, _pk in boxes)  # projects wait to be opened
    assert '<svg class="flow"' in html and '<title id="flow-title">' in html
    assert f'href="{reverse("alignment:map")}"' in html  # the text tree, the accessible view


def test_a_boxs_colour_follows_its_open_flags(chain, client_for, viewer):
    from alignment import flow

    engine.scan_full()
    html = client_for(viewer).get(reverse("alignment:map_flow")).content.decode()
    _snapshot, health = _health()

    for kind, pk in ((k, chain[key].pk) for k, key in (("goal", "g1"), ("crm_strategy", "a"))):
        flags = health[kind][pk].flags
        assert flow_boxes(html)[(kind, pk)][0] == ("flagged" if flags else "healthy")
    assert "flow-node--flagged" in html  # the chain has open flags (P3, BS2): some box says so
    assert "Has open flags" in html  # and the legend says what that colour means
    assert set(flow.STATE_LABELS) == {"healthy", "flagged", "loose", "inactive", "unmeasured"}


def _health():
    from alignment.models import Snapshot

    snapshot = Snapshot.objects.order_by("-taken_at", "-id").first()
    return snapshot, strategy_map.stored_health(snapshot.figures)


def test_a_link_is_as_wide_as_the_money_it_carries(chain, client_for, viewer):
    chain["p1"].budget_technology = 9000
    chain["p1"].save()
    engine.scan_full()

    html = client_for(viewer).get(reverse("alignment:map_flow")).content.decode()

    links = re.findall(r'<path class="flow-link([^"]*)" d="[^"]*" stroke-width="([\d.]+)">', html)
    widths = sorted(float(width) for _css, width in links)
    assert widths[-1] == 18.0  # the largest flow: goal → BS1 → A, all of P1's budget
    assert (" flow-link--none", "1.5") in links  # BS2 receives nothing: a thin grey line
    assert f"EUR{chr(160)}" in html  # each link's title says its amount with its currency


def test_opening_a_crm_strategy_draws_a_page_of_its_projects(chain, client_for, viewer):
    engine.scan_full()
    url = reverse("alignment:map_flow") + f"?crm={chain['d'].pk}"

    html = client_for(viewer).get(url).content.decode()

    boxes = flow_boxes(html)
    state, href = boxes[("project", chain["p4"].pk)]
    assert href == chain["p4"].get_absolute_url()
    assert state == "loose"  # its only link is to a draft: it hangs loose
    assert ("project", chain["p1"].pk) not in boxes  # P1 serves A, not D
    assert 'class="flow-node flow-node--inactive flow-node--opened"' in html
    assert "Close the projects of D Draft idea" in html


def test_opening_a_crm_strategy_pages_its_projects(chain, client_for, viewer, monkeypatch):
    monkeypatch.setattr(strategy_map, "MAP_PAGE_SIZE", 1)
    ProjectLinkFactory(project=ProjectFactory(title="P5 Another"), crm_strategy=chain["a"])
    url = reverse("alignment:map_flow") + f"?crm={chain['a'].pk}"

    first = flow_boxes(client_for(viewer).get(url).content.decode())
    second = flow_boxes(client_for(viewer).get(url + "&page=2").content.decode())

    first_projects = [pk for kind, pk in first if kind == "project"]
    second_projects = [pk for kind, pk in second if kind == "project"]
    assert len(first_projects) == len(second_projects) == 1
    assert first_projects != second_projects


@pytest.mark.parametrize("crm", ["nonsense", "999999"])
def test_the_visual_map_answers_404_for_a_crm_strategy_that_is_not_there(
    chain, client_for, viewer, crm
):
    response = client_for(viewer).get(reverse("alignment:map_flow") + f"?crm={crm}")
    assert response.status_code == 404


def test_without_a_role_the_visual_map_is_not_found(chain, client_for):
    from tests.factories import UserFactory

    response = client_for(UserFactory(roles=[])).get(reverse("alignment:map_flow"))
    assert response.status_code == 404


def test_before_any_scan_the_visual_map_draws_the_chain_without_health(chain, client_for, viewer):
    html = client_for(viewer).get(reverse("alignment:map_flow")).content.decode()

    boxes = flow_boxes(html)
    assert boxes[("goal", chain["g1"].pk)][0] == "unmeasured"
    assert boxes[("crm_strategy", chain["c"].pk)][0] == "loose"  # loose whatever the scan
    assert "No full scan has counted the portfolio yet" in html


def test_the_flow_a_snapshot_kept_reads_back_as_decimals_and_none_before_it_was_recorded():
    from decimal import Decimal

    from alignment import flow

    assert flow.stored_flow({"map_flow": {"3:7": "400.10"}}) == {(3, 7): Decimal("400.10")}
    assert flow.stored_flow({"spend": {}}) is None
    assert flow.stored_flow(None) is None


@pytest.mark.parametrize("name", ["alignment:map_goal", "projects:detail", "goals:detail"])
@pytest.mark.parametrize("pk", [1, 7, 12345, 2**63 - 2])
def test_a_node_url_is_the_reversed_url_under_any_script_prefix(name, pk):
    from django.urls import set_script_prefix

    assert strategy_map.url_with_id(name, pk) == reverse(name, args=[pk])
    set_script_prefix("/crm/")
    try:
        assert strategy_map.url_with_id(name, pk) == reverse(name, args=[pk])
        assert strategy_map.url_with_id(name, pk).startswith("/crm/")
    finally:
        set_script_prefix("/")
