"""The executive's journey in real Chromium: a goal with a KPI and its readings, a business
strategy under it, and a CRM strategy serving that strategy."""

import re

import pytest
from playwright.sync_api import expect

from goals.models import BusinessGoal
from strategies.models import CRMStrategy

pytestmark = pytest.mark.django_db(transaction=True)


def test_executive_defines_a_goal_a_business_strategy_and_a_crm_strategy(
    page, live_server, login, screenshot, executive
):
    login(executive)

    # A goal.
    page.goto(f"{live_server.url}/goals/")
    page.get_by_role("link", name="New goal").click()
    page.get_by_label("Title").fill("Grow revenue while maintaining profit margin")
    page.get_by_label("Description").fill("The group's headline goal for the next three years.")
    page.get_by_label("Status").select_option("active")
    page.get_by_label("Priority").select_option("1")
    page.get_by_role("button", name="Create goal").click()
    expect(
        page.get_by_role("heading", name="Grow revenue while maintaining profit margin")
    ).to_be_visible()
    expect(page.locator(".message--success")).to_contain_text("created")

    # A KPI and two readings: the trend line appears.
    page.get_by_role("link", name="Add KPI").click()
    page.get_by_label("Name").fill("Gross margin")
    page.get_by_label("Unit").fill("%")
    page.get_by_label("Baseline").fill("31")
    page.get_by_label("Target").fill("33")
    page.get_by_role("button", name="Add KPI").click()
    for day, value in [("2026-01-31", "31.4"), ("2026-02-28", "31.9")]:
        page.get_by_text("Record reading").click()
        page.get_by_label("Value").fill(value)
        page.get_by_label("Date").fill(day)
        page.get_by_role("button", name="Save reading").click()
        expect(page.locator(".message--success")).to_contain_text("Reading recorded")
    expect(page.locator("svg.sparkline polyline")).to_have_count(1)
    expect(page.locator("tr[id^=kpi-]")).to_contain_text("31.9%")

    # A form error names its field.
    page.get_by_role("link", name="Add business strategy").click()
    page.get_by_role("button", name="Create business strategy").click()
    expect(page.locator(".field__errors")).to_contain_text("Title: This field is required.")

    # A business strategy under the goal (the goal is preselected).
    page.get_by_label("Title").fill("Win share in emerging markets through local partners")
    page.get_by_label("Scope").fill("Emerging markets")
    page.get_by_label("Status").select_option("active")
    page.get_by_role("button", name="Create business strategy").click()
    goal_link = page.get_by_role("link", name="Grow revenue while maintaining profit margin")
    expect(goal_link).to_be_visible()

    # A CRM strategy serving it.
    page.get_by_role("link", name="New CRM strategy").click()
    page.get_by_label("Title").fill("Recruit, develop and enable local partners")
    page.get_by_label("Customer need").fill("Local knowledge and local sales and service.")
    page.get_by_label(re.compile(r"Win share in emerging markets")).check()
    page.get_by_label("People capabilities").fill("Partner managers per country")
    page.get_by_label("Process capabilities").fill("Partner onboarding and certification")
    page.get_by_label("Technology capabilities").fill("Partner portal")
    page.get_by_label("Status").select_option("active")
    page.get_by_role("button", name="Create CRM strategy").click()
    expect(page.get_by_text("Anchored to an active goal")).to_be_visible()
    screenshot("executive-crm-strategy")

    goal = BusinessGoal.objects.get()
    page.goto(f"{live_server.url}/goals/{goal.pk}/")
    served_by = page.get_by_text("Served by: Recruit, develop and enable local partners")
    expect(served_by).to_be_visible()
    screenshot("executive-goal")

    crm = CRMStrategy.objects.get()
    assert [bs.title for bs in crm.business_strategies.all()] == [
        "Win share in emerging markets through local partners"
    ]
    assert crm.owner == executive
