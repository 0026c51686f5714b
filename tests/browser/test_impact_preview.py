"""In real Chromium over the demo data: an executive retires a business strategy, sees the
preview with its three projects and their budget, cancels (nothing changed), retires it after
all, finds the retirement in History and Activity, and reactivates it — each step through the
pages a person uses."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from crm_alignment.demo import DEMO_PASSWORD
from strategies.models import BusinessStrategy

pytestmark = pytest.mark.django_db(transaction=True)

BS_PARTNERS = "Win share in emerging markets through local partners"
PROJECTS = (
    "Partner portal for emerging markets",
    "Partner market development fund",
    "Partner certification programme",
)


@pytest.fixture
def demo(settings):
    settings.DEBUG = True  # load_demo is a development command
    call_command("load_demo", stdout=StringIO())
    call_command("scan_alignment", stdout=StringIO())


def test_an_executive_previews_cancels_retires_and_reactivates_a_strategy(
    page, live_server, demo, screenshot
):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("executive")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")

    strategy = BusinessStrategy.objects.get(title=BS_PARTNERS)
    version = strategy.version
    page.goto(f"{live_server.url}{strategy.get_absolute_url()}")

    # Retire… opens the preview: the three projects, their budget, the flags that would open.
    page.get_by_role("link", name="Retire…").click()
    expect(
        page.get_by_role("heading", name=re.compile("Retire the business strategy"))
    ).to_be_visible()
    projects = page.locator('[data-impact="projects"] li')
    expect(projects).to_have_count(3)
    for title in PROJECTS:
        expect(projects.filter(has_text=title)).to_have_count(1)
    expect(page.locator("#impact")).to_contain_text("710,000.00")
    expect(page.locator('[data-impact="opening"]')).to_contain_text(
        "CRM strategy serves no active business strategy"
    )
    screenshot("impact-preview-retire")

    # Cancel: back on the strategy's page, nothing changed.
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", name=BS_PARTNERS)).to_be_visible()
    strategy.refresh_from_db()
    assert strategy.status == "active" and strategy.version == version

    # Retire after all.
    page.get_by_role("link", name="Retire…").click()
    page.get_by_role("button", name="Retire").click()
    expect(page.locator(".message--success")).to_contain_text("retired")
    strategy.refresh_from_db()
    assert strategy.status == "retired"

    # The retirement is in the strategy's History and on the Activity page: who, how, what.
    page.get_by_role("link", name="History").click()
    newest = page.locator("table tbody tr").first
    expect(newest).to_contain_text("Status: Active → Retired")
    expect(newest).to_contain_text("page")
    expect(newest).to_contain_text("Elena Marsh")
    page.get_by_role("link", name="Activity").click()
    expect(page.locator("table tbody tr").first).to_contain_text("Status: Active → Retired")
    page.goto(f"{live_server.url}{strategy.get_absolute_url()}")

    # Reactivate: the preview says the three projects would trace again.
    page.get_by_role("link", name="Reactivate…").click()
    again = page.locator('[data-impact="projects"] li')
    expect(again).to_have_count(3)
    page.get_by_role("button", name="Reactivate").click()
    expect(page.locator(".message--success")).to_contain_text("active again")
    strategy.refresh_from_db()
    assert strategy.status == "active"
