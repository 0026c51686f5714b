"""The strategy map in real Chromium: a branch's children load when it is opened (htmx), the
next page replaces its "more" link, and nothing breaks the Content-Security-Policy."""

import pytest
from playwright.sync_api import expect

from alignment import engine, strategy_map
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    FeatureFactory,
    FeatureLinkFactory,
    GoalFactory,
    ProjectFactory,
    ProjectLinkFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def portfolio(db):
    goal = GoalFactory(title="Grow revenue while maintaining profit margin")
    business = BusinessStrategyFactory(goal=goal, title="Win emerging markets")
    crm = CRMStrategyFactory(title="Enable local partners", serves=[business])
    for n in range(3):
        project = ProjectFactory(title=f"Partner project {n}")
        ProjectLinkFactory(project=project, crm_strategy=crm, rationale=f"Reason {n}.")
        feature = FeatureFactory(project=project, title=f"Partner feature {n}")
        FeatureLinkFactory(feature=feature, crm_strategy=crm)
    engine.scan_full()
    return {"business": business, "crm": crm}


def test_opening_branches_loads_their_children_a_page_at_a_time(
    page, live_server, login, screenshot, viewer, portfolio, monkeypatch
):
    monkeypatch.setattr(strategy_map, "MAP_PAGE_SIZE", 2)  # the live server shares the process
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    # Every branch request answers 200 (the browser's own favicon request aside).
    page.on(
        "response",
        lambda r: (
            r.status >= 400
            and not r.url.endswith("/favicon.ico")
            and problems.append(f"{r.status} {r.url}")
        ),
    )
    login(viewer)

    page.goto(f"{live_server.url}/alignment/map/")
    tree = page.locator("#strategy-map")
    business = tree.locator("[data-kind='business_strategy']")
    expect(business).to_contain_text("Win emerging markets")
    expect(business).to_contain_text("3 projects · 100% trace")
    expect(tree).not_to_contain_text("Enable local partners")

    tree.locator("summary:has-text('Win emerging markets')").click()
    crm = tree.locator("[data-kind='crm_strategy']")
    expect(crm).to_contain_text("Enable local partners")
    expect(crm).to_contain_text("3 projects · 100% trace")

    tree.locator("summary:has-text('Enable local partners')").click()
    expect(tree).to_contain_text("Partner project 0")
    expect(tree).to_contain_text("Reason 0.")
    expect(tree).not_to_contain_text("Partner project 2")
    tree.get_by_role("link", name="1 more…").click()
    expect(tree).to_contain_text("Partner project 2")
    expect(tree.get_by_role("link", name="1 more…")).to_have_count(0)

    tree.locator("summary:has-text('Partner project 2')").click()
    expect(tree).to_contain_text("Partner feature 2")
    screenshot("strategy-map-branches")
    assert problems == []


def test_the_visual_map_opens_a_crm_strategys_projects_and_a_box_opens_its_page(
    page, live_server, login, screenshot, viewer, portfolio
):
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    login(viewer)

    page.goto(f"{live_server.url}/alignment/map/")
    page.get_by_role("link", name="Visual", exact=True).click()
    chart = page.locator("svg.flow")
    expect(chart.locator("[data-kind='goal']")).to_contain_text("Grow revenue while")
    expect(chart.locator("[data-kind='project']")).to_have_count(0)

    page.get_by_role("link", name="Show the projects of Enable local partners").click()
    expect(chart.locator("[data-kind='project']")).to_have_count(3)
    screenshot("strategy-map-visual")

    project = chart.locator("[data-kind='project']").first
    project.locator("a").first.click()
    expect(page.locator("h1")).to_contain_text("Partner project 0")
    assert problems == []


def test_the_visual_map_scrolls_in_its_own_box_on_a_phone(
    page, live_server, login, viewer, portfolio
):
    page.set_viewport_size({"width": 390, "height": 844})
    login(viewer)

    page.goto(f"{live_server.url}/alignment/map/flow/")

    expect(page.locator("svg.flow")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    wrap = page.locator(".flow-wrap")
    assert wrap.evaluate("el => el.scrollWidth > el.clientWidth")  # the picture scrolls inside


def test_a_branch_opened_the_moment_it_arrives_still_loads(
    page, live_server, login, viewer, portfolio, monkeypatch
):
    """htmx wires up new content only when it settles; a branch opened (or a "more" link
    clicked) before that must load all the same. A long settle delay makes the gap wide."""
    monkeypatch.setattr(strategy_map, "MAP_PAGE_SIZE", 2)
    login(viewer)
    page.goto(f"{live_server.url}/alignment/map/")
    page.evaluate("htmx.config.defaultSettleDelay = 60000")
    tree = page.locator("#strategy-map")

    tree.locator("summary:has-text('Win emerging markets')").click()
    expect(tree).to_contain_text("Enable local partners")
    tree.locator("summary:has-text('Enable local partners')").click()
    expect(tree).to_contain_text("Partner project 0")
    tree.get_by_role("link", name="1 more…").click()
    expect(tree).to_contain_text("Partner project 2")
    assert page.url == f"{live_server.url}/alignment/map/"  # appended in place
