"""The project manager's journey in real Chromium: create a project, link it, add a feature
nobody can justify, watch its flag appear, link the feature and watch the flag go — all
without reloading the page."""

import pytest
from playwright.sync_api import expect

from core.people import label
from projects.models import CRMProject
from tests.factories import CRMStrategyFactory, DepartmentFactory

pytestmark = pytest.mark.django_db(transaction=True)

FLAG_WAIT_MS = 15_000  # the panel polls every 3 s; a save also refreshes it at once


@pytest.fixture
def strategy():
    """An active CRM strategy serving an active business strategy of an active goal."""
    return CRMStrategyFactory(title="Recruit, develop and enable local partners")


def test_project_manager_links_a_project_and_its_feature_and_sees_the_flag_come_and_go(
    page, live_server, login, screenshot, pm, sponsor, strategy
):
    DepartmentFactory(name="Partner Channel")
    DepartmentFactory(name="Sales Operations")
    login(pm)

    # Create the project.
    page.goto(f"{live_server.url}/projects/")
    page.get_by_role("link", name="New project").click()
    page.get_by_label("Title").fill("Partner portal for emerging markets")
    # The sponsor is a person picker: typing part of their name brings them as a suggestion.
    sponsor_field = page.get_by_label("Sponsor")
    sponsor_field.fill(sponsor.last_name[:3])
    suggestion = page.locator(f'#id_sponsor-suggestions option[value="{label(sponsor)}"]')
    expect(suggestion).to_be_attached()
    sponsor_field.fill(suggestion.get_attribute("value"))
    # So is the department: a word of its name, in any case, brings it.
    department_field = page.get_by_label("Business-owner department")
    department_field.fill("channel")
    offered = page.locator("#id_department-suggestions option")
    expect(offered).to_have_count(1)
    expect(offered).to_have_attribute("value", "Partner Channel")
    department_field.fill(offered.get_attribute("value"))
    page.get_by_label("Technology").fill("180000")
    page.get_by_label("People").fill("40000")
    page.get_by_label("Training").fill("30000")
    page.get_by_label("Integration notes").fill("Single sign-on; deals flow into the CRM.")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Partner portal for emerging markets")).to_be_visible()
    expect(page.get_by_text("Untraced", exact=True)).to_be_visible()

    # Link it to the CRM strategy with a rationale: the chain appears as breadcrumbs.
    page.get_by_role("link", name="Link to CRM strategies").first.click()
    page.get_by_label(strategy.title, exact=True).check()
    page.get_by_label(f"How it serves “{strategy.title}”").fill(
        "Gives partners the tools to sell and serve for us."
    )
    page.get_by_label(f"Weight for “{strategy.title}”").fill("70")
    page.get_by_role("button", name="Save links").click()
    chain = page.locator(".chain__crumbs")
    expect(chain).to_contain_text("Goal:")
    expect(chain).to_contain_text(strategy.title)
    expect(page.get_by_text("Traces to a goal", exact=True)).to_be_visible()

    # From here on the page must never reload: htmx swaps the parts that change.
    page.evaluate("window.__stillTheSamePage = true")

    # Add a feature nobody can justify: its flag appears in the panel by itself.
    features = page.locator("#features")
    features.get_by_text("Add a feature").click()
    features.get_by_label("Title").fill("Partner leaderboard gamification")
    features.get_by_label("Priority").select_option("3")
    features.get_by_role("button", name="Add feature").click()
    row = features.locator(".feature-row", has_text="Partner leaderboard gamification")
    expect(row.get_by_text("Untraced", exact=True)).to_be_visible()
    flags = page.locator("#project-flags")
    expect(flags.locator('[data-rule="feature.untraced"]')).to_be_visible(timeout=FLAG_WAIT_MS)
    expect(flags).to_contain_text("What to do:")
    screenshot("pm-project-flagged")

    # Link the feature inline: the flag goes.
    link_button_name = "Link “Partner leaderboard gamification” to CRM strategies"
    row.get_by_role("link", name=link_button_name).click()
    row = features.locator(".feature-row", has_text="Partner leaderboard gamification")
    row.get_by_label(strategy.title, exact=True).check()
    row.get_by_label(f"How it serves “{strategy.title}”").fill("Motivates partners to log deals.")
    row.get_by_role("button", name="Save links").click()
    expect(row.get_by_text("Traced", exact=True)).to_be_visible()
    expect(flags.locator('[data-rule="feature.untraced"]')).to_have_count(0, timeout=FLAG_WAIT_MS)
    assert page.evaluate("window.__stillTheSamePage") is True
    screenshot("pm-project-linked")

    project = CRMProject.objects.get()
    assert project.manager == pm
    assert project.sponsor == sponsor
    assert project.department.name == "Partner Channel"
    assert project.features.get().links.get().crm_strategy == strategy
