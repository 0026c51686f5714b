"""History in real Chromium: an executive retires a business strategy and finds the change in
its History tab and on the Activity page, then restores a deleted project from the Activity
page, with its features."""

import pytest
from playwright.sync_api import expect

from projects import services as project_services
from projects.models import CRMProject
from tests.factories import BusinessStrategyFactory, FeatureFactory, GoalFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_executive_sees_a_retirement_in_history_and_activity_and_restores_a_project(
    page, live_server, login, executive, pm
):
    goal = GoalFactory(owner=executive, title="Grow mid-market revenue")
    strategy = BusinessStrategyFactory(
        goal=goal, owner=executive, title="Direct telesales to mid-market accounts"
    )
    project = project_services.project_create(actor=pm, title="Telesales dialler")
    FeatureFactory(project=project, title="Auto-dial queue")
    project_services.project_delete(actor=pm, project_id=project.pk)
    login(executive)

    page.goto(f"{live_server.url}/strategies/business/{strategy.pk}/")
    page.get_by_role("link", name="Retire…").click()  # its impact first, then the button
    page.get_by_role("button", name="Retire").click()
    expect(page.locator(".message--success")).to_be_visible()

    page.get_by_role("link", name="History").click()
    rows = page.locator("table tbody tr")
    expect(rows.first).to_contain_text("Updated")
    expect(rows.first).to_contain_text("Status: Active → Retired")
    expect(rows.first).to_contain_text("page")

    page.get_by_role("link", name="Activity").click()
    expect(page.locator("table")).to_contain_text("Status: Active → Retired")
    page.get_by_label("Kind of object").select_option("project")
    page.get_by_role("button", name="Filter").click()
    entry = page.locator("tr", has_text="Deleted").filter(has_text="Telesales dialler").first
    page.once("dialog", lambda dialog: dialog.accept())
    entry.get_by_role("button", name="Restore").click()

    expect(page.get_by_role("heading", name="Telesales dialler")).to_be_visible()
    expect(page.locator(".message--success")).to_contain_text("Restored")
    assert CRMProject.objects.get(pk=project.pk).features.get().title == "Auto-dial queue"
