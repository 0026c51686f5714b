"""The integration register in real Chromium: a project manager adds a system to their project
with the picker (typing part of its name brings it as a suggestion), the project page lists it,
and the system's page in the register lists the project."""

import pytest
from playwright.sync_api import expect

from projects.models import ProjectSystem
from tests.factories import ProjectFactory, SystemFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_project_manager_adds_a_system_and_it_shows_in_the_register(
    page, live_server, login, screenshot, pm
):
    project = ProjectFactory(manager=pm, title="Partner portal for emerging markets")
    SystemFactory(name="Billing")
    SystemFactory(name="ERP")
    login(pm)

    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    systems = page.locator("#systems")
    expect(systems.get_by_text("No systems listed.")).to_be_visible()
    systems.locator("summary", has_text="Add a system").click()
    picker = systems.locator("#id_system-system")
    picker.fill("bill")
    suggestion = page.locator('#id_system-system-suggestions option[value="Billing"]')
    expect(suggestion).to_be_attached()
    picker.fill(suggestion.get_attribute("value"))
    systems.get_by_label("Integration status").select_option("not_started")
    systems.get_by_role("button", name="Add system").click()

    systems = page.locator("#systems")
    expect(systems.get_by_role("link", name="Billing", exact=True)).to_be_visible()
    expect(systems.get_by_text("not started", exact=True)).to_be_visible()
    expect(systems.get_by_text("no owner", exact=True)).to_be_visible()
    screenshot("pm-project-systems")

    systems.get_by_role("link", name="Billing", exact=True).click()
    expect(page.get_by_role("heading", name="Billing", level=1)).to_be_visible()
    expect(page.get_by_role("link", name=project.title)).to_be_visible()
    row = ProjectSystem.objects.get()
    assert (row.project, row.system.name, row.status, row.owner) == (
        project,
        "Billing",
        "not_started",
        None,
    )
