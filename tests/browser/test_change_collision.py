"""A change collision in real Chromium: a project manager adds a user group to the catalogue,
names the groups their project affects, lists a system it touches and plans its go-live; the
third go-live on "Service agents" within 30 days is flagged on the project page by itself (the
re-check after the save), and the roadmap filtered by the group shows the same flag."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from projects.models import PhaseKind, ProjectStatus, ProjectSystem, ProjectUserGroup, UserGroup
from tests.factories import ProjectFactory, RoadmapPhaseFactory, SystemFactory, UserGroupFactory

pytestmark = pytest.mark.django_db(transaction=True)

FLAG_WAIT_MS = 15_000  # the flags panel polls every 3 s; a save also refreshes it at once


def _launching(title: str, group: UserGroup, day: datetime.date) -> None:
    """Someone else's active project with a go-live on `day` that lands on `group`."""
    project = ProjectFactory(title=title, status=ProjectStatus.ACTIVE)
    ProjectUserGroup.objects.create(project=project, user_group=group)
    RoadmapPhaseFactory(
        project=project,
        name="Go-live",
        kind=PhaseKind.MILESTONE,
        start_date=day,
        end_date=day,
        go_live=True,
    )


def test_a_pm_adds_groups_a_system_and_a_go_live_and_sees_the_collision(
    page, live_server, login, screenshot, pm
):
    today = timezone.localdate()
    agents = UserGroupFactory(name="Service agents")
    _launching("Case routing overhaul", agents, today + datetime.timedelta(days=5))
    _launching("Knowledge base in the console", agents, today + datetime.timedelta(days=12))
    SystemFactory(name="Billing")
    project = ProjectFactory(
        manager=pm, title="Partner portal for emerging markets", status=ProjectStatus.ACTIVE
    )
    login(pm)

    # A new user group in the catalogue.
    page.goto(f"{live_server.url}/projects/user-groups/")
    page.get_by_role("link", name="New user group").click()
    page.get_by_label("Name").fill("Partner managers")
    page.get_by_label("Description").fill("Channel managers who look after partners.")
    page.get_by_role("button", name="Add user group").click()
    expect(page.get_by_role("status")).to_contain_text("User group “Partner managers” added.")

    # The project names the groups it affects: a word of a name brings it as a suggestion.
    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    collision = page.locator('#project-flags [data-rule="portfolio.change_collision"]')
    expect(collision).to_have_count(0)
    page.get_by_role("link", name="Change", exact=True).click()
    groups = page.get_by_label("User groups affected")
    groups.fill("serv")
    suggestion = page.locator('#id_user_groups-suggestions option[value="Service agents"]')
    expect(suggestion).to_be_attached()
    groups.fill(f"{suggestion.get_attribute('value')}; partner")
    suggestion = page.locator(
        '#id_user_groups-suggestions option[value="Service agents; Partner managers"]'
    )
    expect(suggestion).to_be_attached()
    groups.fill(suggestion.get_attribute("value"))
    page.get_by_role("button", name="Save project").click()
    expect(page.get_by_role("heading", name=project.title, level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Service agents", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Partner managers", exact=True)).to_be_visible()

    # A system it touches, from the register's catalogue.
    systems = page.locator("#systems")
    systems.locator("summary", has_text="Add a system").click()
    systems.locator("#id_system-system").fill("Billing")
    systems.get_by_label("Integration status").select_option("designed")
    systems.get_by_role("button", name="Add system").click()
    expect(page.locator("#systems").get_by_role("link", name="Billing", exact=True)).to_be_visible()

    # Its go-live, 20 days out: the third on the service agents within 30 days.
    go_live_day = today + datetime.timedelta(days=20)
    phases = page.locator("#phases")
    phases.locator("summary", has_text="Add a phase or milestone").click()
    phases.get_by_label("Name").fill("Go-live in EMEA")
    phases.get_by_label("Kind").select_option("milestone")
    phases.get_by_label("Start date").fill(go_live_day.isoformat())
    phases.get_by_label("Go live").check()
    phases.get_by_role("button", name="Add to roadmap").click()
    expect(page.locator("#phases").get_by_text("Go-live", exact=True)).to_be_visible()

    expect(collision).to_be_visible(timeout=FLAG_WAIT_MS)
    expect(collision).to_contain_text("User group: Service agents")
    expect(collision).to_contain_text("More than 2 go-lives hit “Service agents” within 30 days")
    expect(collision).to_contain_text(f"{project.title} on {go_live_day.isoformat()}")
    expect(collision).to_contain_text("Case routing overhaul")
    expect(page.locator("#project-flags")).not_to_contain_text("Partner managers")
    screenshot("pm-change-collision")

    # The roadmap of the group shows the same collision and the three go-lives.
    page.get_by_role("link", name="Service agents", exact=True).click()
    expect(page.get_by_role("heading", name="Service agents", level=2)).to_be_visible()
    expect(
        page.locator('#user-group-flags [data-rule="portfolio.change_collision"]')
    ).to_be_visible()
    expect(page.locator(".timeline__go-live-label")).to_have_count(3)

    link = ProjectSystem.objects.get(project=project)
    assert (link.system.name, link.status) == ("Billing", "designed")
    assert set(project.user_group_links.values_list("user_group__name", flat=True)) == {
        "Service agents",
        "Partner managers",
    }
