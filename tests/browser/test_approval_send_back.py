"""A sponsor sends a proposal back with what to fix, in real Chromium; its manager sees it at
the top of the project page, comments and resubmits; the sponsor then approves it."""

import pytest
from playwright.sync_api import expect

from projects.models import DecisionKind, ProjectDecision, ProjectStatus
from tests.factories import ProjectFactory, RoadmapPhaseFactory, SuccessMetricFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_sponsor_sends_a_project_back_and_the_manager_resubmits(
    page, live_server, login, screenshot, sponsor, pm
):
    project = ProjectFactory(title="Partner fund", manager=pm, sponsor=sponsor)
    SuccessMetricFactory(project=project)
    RoadmapPhaseFactory(project=project)
    url = f"{live_server.url}/projects/{project.pk}/"

    # The sponsor: a send-back needs a comment, so an empty one is refused, naming it.
    login(sponsor)
    page.goto(url)
    approval = page.locator("#approval")
    approval.get_by_role("button", name="Send back to the manager").click()
    expect(page.locator(".messages")).to_contain_text("Comment: A comment is required")
    approval.get_by_label("Comment", exact=True).fill("Say which partner managers it reaches.")
    approval.get_by_role("button", name="Send back to the manager").click()
    expect(page.locator(".messages[aria-live]")).to_contain_text("sent back")
    expect(approval.get_by_role("button", name="Send back to the manager")).to_have_count(0)
    page.context.clear_cookies()

    # The manager: what to fix is at the top of the page, and the way to resubmit below.
    login(pm)
    page.goto(url)
    banner = page.locator("[data-sent-back]")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Say which partner managers it reaches.")
    screenshot("pm-project-sent-back")
    page.get_by_label("What you changed (optional)").fill("Partner managers EMEA and APAC.")
    page.get_by_role("button", name="Resubmit for approval").click()
    expect(page.locator(".messages")).to_contain_text("resubmitted")
    expect(page.locator("[data-sent-back]")).to_have_count(0)
    expect(page.locator('[data-decision="resubmitted"]')).to_contain_text("EMEA and APAC")
    page.context.clear_cookies()

    # The sponsor approves the resubmitted project.
    login(sponsor)
    page.goto(url)
    page.locator("#approval").get_by_role("button", name="Approve project").click()
    expect(page.locator(".messages")).to_contain_text("approved")

    project.refresh_from_db()
    assert project.status == ProjectStatus.APPROVED
    assert list(
        ProjectDecision.objects.filter(project=project)
        .order_by("id")
        .values_list("kind", flat=True)
    ) == [DecisionKind.SENT_BACK, DecisionKind.RESUBMITTED, DecisionKind.APPROVED]
