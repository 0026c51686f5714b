"""In real Chromium: a sponsor groups the inbox by rule, selects two flags and waives them
together with one reason and one end date; a flag of someone else's project offers no
checkbox and says why."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from alignment import engine
from alignment.models import Flag, FlagState, Scan, ScanKind, ScanState
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_sponsor_selects_two_flags_and_waives_them_together(
    page, live_server, login, screenshot, sponsor
):
    # Four projects linked to no CRM strategy: the scan flags each "project.untraced".
    titles = ["Partner portal", "Mobile app", "Loyalty scheme"]
    projects = [ProjectFactory(title=title, sponsor=sponsor) for title in titles]
    projects.append(ProjectFactory(title="Data lake", sponsor=UserFactory(roles=["sponsor"])))
    engine.scan_full()
    first, second, untouched, theirs = (
        Flag.objects.get(rule="project.untraced", project=project) for project in projects
    )
    login(sponsor)

    page.goto(f"{live_server.url}/alignment/flags/")
    page.get_by_label("Group by").select_option("rule")
    page.get_by_role("button", name="Filter").click()
    group = page.locator('tr[data-group="project.untraced"]')
    expect(group.locator(".group-count")).to_have_text("4")
    group.get_by_role("link", name="Show 4 flags").click()

    expect(page.locator(f"#flag-{theirs.pk}")).to_contain_text("you do not sponsor it")
    expect(page.locator(f"#flag-{theirs.pk} input[type=checkbox]")).to_have_count(0)
    page.locator(f"#flag-{first.pk} input[type=checkbox]").check()
    page.locator(f"#flag-{second.pk} input[type=checkbox]").check()
    bulk = page.locator("#flag-bulk")
    bulk.get_by_label("With the selected flags").select_option("waive")
    bulk.get_by_label("Reason for the waivers").fill("Roadmaps follow the pilot review.")
    until = timezone.localdate() + datetime.timedelta(days=30)
    bulk.get_by_label("Waived until").fill(until.isoformat())
    screenshot("inbox-bulk-waive")
    bulk.get_by_role("button", name="Apply to selected flags").click()

    expect(page.locator(".messages")).to_contain_text(f"Waived 2 flags until {until:%d %b %Y}.")
    expect(page.locator(f"#flag-{first.pk}")).to_have_attribute("data-state", "waived")
    expect(page.locator(f"#flag-{second.pk}")).to_have_attribute("data-state", "waived")
    assert page.url.endswith("group=rule&open=project.untraced")  # back where it was
    states = dict(Flag.objects.filter(rule="project.untraced").values_list("pk", "state"))
    assert states == {
        first.pk: FlagState.WAIVED,
        second.pk: FlagState.WAIVED,
        untouched.pk: FlagState.OPEN,
        theirs.pk: FlagState.OPEN,
    }
    assert (
        {Flag.objects.get(pk=first.pk).waiver_reason}
        == {Flag.objects.get(pk=second.pk).waiver_reason}
        == {"Roadmaps follow the pilot review."}
    )


def test_the_inbox_reloads_by_itself_when_the_running_scan_ends(page, live_server, login, sponsor):
    scan = Scan.objects.create(kind=ScanKind.FULL, state=ScanState.RUNNING)
    login(sponsor)

    page.goto(f"{live_server.url}/alignment/flags/?group=rule")
    expect(page.locator("#scan-status")).to_contain_text(f"Scan {scan.pk} is running")
    Scan.objects.filter(pk=scan.pk).update(state=ScanState.DONE, opened=2, resolved=0)

    # poll.js asks every 2 seconds; the answer reloads the page, which shows the outcome.
    expect(page.locator(".messages")).to_contain_text(
        f"Scan {scan.pk} finished: 2 flags opened, 0 resolved.", timeout=10_000
    )
    expect(page.locator("#scan-status")).to_have_count(0)
    assert page.url.endswith("?group=rule")
