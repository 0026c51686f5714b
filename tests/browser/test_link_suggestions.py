"""A project manager accepts a suggested link in real Chromium: the untraced project's page
suggests the CRM strategy its words share, Accept opens the link picker with it ticked and a
draft rationale, and saving makes the project traced."""

import pytest
from playwright.sync_api import expect

from projects.models import ProjectLink
from tests.factories import CRMStrategyFactory, ProjectFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_project_manager_accepts_a_suggested_link(page, live_server, login, pm):
    partners = CRMStrategyFactory(
        title="Recruit, develop and enable local partners",
        description="Partner recruitment, certification and deal registration.",
    )
    CRMStrategyFactory(title="Service-led retention", description="Keep customers at risk.")
    project = ProjectFactory(
        manager=pm,
        title="Partner portal for emerging markets",
        description="Deal registration and certification for our partners.",
    )
    login(pm)

    page.goto(f"{live_server.url}/projects/{project.pk}/")
    expect(page.get_by_text("Untraced", exact=True)).to_be_visible()
    suggested = page.get_by_role("heading", name="Suggested CRM strategies")
    expect(suggested).to_be_visible()
    expect(page.get_by_text("Shares: partner", exact=False)).to_be_visible()

    page.get_by_role("link", name=f"Accept “{partners.title}”").click()
    ticked = page.get_by_label(partners.title, exact=True)
    expect(ticked).to_be_checked()
    rationale = page.get_by_label(f"How it serves “{partners.title}”")
    assert rationale.input_value().startswith(f"Serves “{partners.title}”")
    rationale.fill("Gives our partners deal registration and certification in one place.")
    page.get_by_role("button", name="Save links").click()

    expect(page.get_by_text("Traces to a goal", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Suggested CRM strategies")).to_have_count(0)
    link = ProjectLink.objects.get(project=project)
    assert link.crm_strategy_id == partners.pk
    assert link.rationale == "Gives our partners deal registration and certification in one place."
