"""The sponsor's journey in real Chromium: read the dashboard, see it change after a link and
a scan, walk the map and the matrix, and waive a flag with a reason and an expiry."""

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from alignment import engine
from alignment.models import Flag, FlagState
from projects.services import LinkSpec, project_set_links
from tests.browser.conftest import SCREENSHOTS
from tests.factories import CRMStrategyFactory, ProjectFactory, ProjectLinkFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def portfolio(sponsor, pm):
    """One traced project, one untraced, one buying technology alone; a first scan."""
    crm = CRMStrategyFactory(title="Enable local partners")
    traced = ProjectFactory(
        title="Partner portal", sponsor=sponsor, manager=pm, budget_technology=Decimal("3000")
    )
    ProjectLinkFactory(project=traced, crm_strategy=crm, rationale="Partners sell locally.")
    untraced = ProjectFactory(
        title="Shiny dashboards", sponsor=sponsor, manager=pm, budget_technology=Decimal("1000")
    )
    tech_only = ProjectFactory(
        title="New CRM licences",
        sponsor=sponsor,
        manager=pm,
        budget_technology=Decimal("2000"),
        budget_people=Decimal("0"),
    )
    ProjectLinkFactory(project=tech_only, crm_strategy=crm, rationale="The tool behind it.")
    engine.scan_full()
    return {"crm": crm, "untraced": untraced, "tech_only": tech_only}


def figure(page, name):
    return page.locator(f'[data-figure="{name}"] .figure__value')


def test_sponsor_follows_alignment_and_waives_a_flag(
    page, live_server, login, screenshot, sponsor, pm, portfolio
):
    login(sponsor)

    # The dashboard: two of three live projects trace.
    page.goto(f"{live_server.url}/alignment/")
    expect(page.get_by_role("heading", name="Alignment dashboard")).to_be_visible()
    expect(figure(page, "projects")).to_have_text("67%")
    expect(page.locator('[data-figure="projects"]')).to_contain_text("2 of 3 live projects")
    expect(page.get_by_role("heading", name="Investment by goal")).to_be_visible()
    screenshot("sponsor-dashboard-before")

    # Something changes: the manager links the loose project, and the sponsor runs a scan.
    project_set_links(
        project_id=portfolio["untraced"].pk,
        actor=pm,
        links=[LinkSpec(portfolio["crm"].pk, "Dashboards for partner managers.")],
    )
    page.get_by_role("button", name="Run scan now").click()
    expect(page.locator(".messages")).to_contain_text("finished")
    expect(figure(page, "projects")).to_have_text("100%")
    expect(figure(page, "budget")).to_have_text("100%")
    expect(page.locator("svg.chart")).to_be_visible()  # two scans: a trend
    page.get_by_text("Show the numbers").click()
    # Every full scan adds a row (edits to strategies trigger some too); the newest is 100%.
    expect(page.locator("details.numbers table tbody tr").last).to_contain_text("100%")
    screenshot("sponsor-dashboard")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / "sponsor-dashboard-viewport.png"))

    # The strategy map: goals and business strategies first; a branch loads when opened,
    # from the keyboard too.
    page.get_by_role("link", name="Strategy map").first.click()
    expect(page.get_by_role("heading", name="Strategy map")).to_be_visible()
    chain = page.locator("#strategy-map")
    expect(chain).not_to_contain_text("Enable local partners")
    business = chain.locator(
        "li.map-branch:has(> .map-leaf [data-kind='business_strategy']) > details"
    ).first
    business.locator("summary").first.focus()
    page.keyboard.press("Enter")
    expect(chain).to_contain_text("Enable local partners")
    branch = chain.locator("details:has(> summary:has-text('Enable local partners'))")
    expect(branch).not_to_have_attribute("open", "")
    branch.locator("summary").first.focus()
    page.keyboard.press("Enter")
    expect(branch).to_have_attribute("open", "")
    expect(branch).to_contain_text("Shiny dashboards")
    screenshot("sponsor-map")

    # The matrix: every project now has its mark, with the rationale on hover.
    page.goto(f"{live_server.url}/alignment/matrix/")
    expect(page.locator('td[title="Dashboards for partner managers."]')).to_have_count(1)
    expect(page.locator("tr.row--loose")).to_have_count(0)
    screenshot("sponsor-matrix")

    # The inbox: the technology-only project's flag, waived with a reason and an expiry.
    flag = Flag.objects.get(rule="project.technology_only", project=portfolio["tech_only"])
    page.goto(f"{live_server.url}/alignment/flags/?mine=true")
    row = page.locator(f"#flag-{flag.pk}")
    expect(row).to_contain_text("Budget the people, process, training and incentives")
    row.locator("summary", has_text="Waive").click()
    row.get_by_role("button", name="Waive flag").click()  # nothing filled in
    row = page.locator(f"#flag-{flag.pk}")
    expect(row).to_contain_text("Reason: Give a reason for the waiver.")
    expect(row).to_contain_text("Waived until: Choose the date the waiver ends.")

    until = timezone.localdate() + datetime.timedelta(days=90)
    row.get_by_label("Reason").fill("Licences first; training budget comes in Q3.")
    row.get_by_label("Waived until").fill(until.isoformat())
    row.get_by_role("button", name="Waive flag").click()
    row = page.locator(f"#flag-{flag.pk}")
    expect(row).to_have_attribute("data-state", "waived")
    expect(row).to_contain_text("Licences first")
    expect(page).to_have_url(re.compile(r"/alignment/flags/\?mine=true$"))  # swapped in place
    screenshot("sponsor-inbox")

    flag.refresh_from_db()
    assert flag.state == FlagState.WAIVED
    assert flag.waived_by == sponsor
    assert timezone.localtime(flag.waiver_expires_at).date() == until
