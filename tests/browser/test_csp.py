"""The Content-Security-Policy in real Chromium: the main pages, the admin and the Swagger UI
load with no violation reported, and what moved out of inline code still works — the retire
confirmation asks, the project's flag panel refreshes itself, the Swagger UI starts."""

import pytest
from playwright.sync_api import expect

from goals.models import BusinessGoal, GoalStatus
from tests.factories import UserFactory
from tests.web.test_csp import portfolio_fixture  # noqa: F401  (the `portfolio` fixture)

pytestmark = pytest.mark.django_db(transaction=True)

# Collects every violation the page reports, from the first script on (Playwright injects this
# outside the page's policy).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(
    `${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`
    + (e.sample ? ` (${e.sample})` : "")
  );
});
"""


@pytest.fixture
def violations(page):
    """violations() → what the current page and the console reported against the policy."""
    console: list[str] = []
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.add_init_script(RECORD_VIOLATIONS)

    def collected() -> list[str]:
        page.wait_for_load_state("networkidle")
        found = console + page.evaluate("window.__cspViolations || []")
        console.clear()
        return found

    return collected


@pytest.fixture
def superuser(db):
    return UserFactory(username="csp-admin", is_staff=True, is_superuser=True)


def test_the_main_pages_load_without_a_policy_violation(
    page, live_server, login, violations, portfolio, superuser
):
    login(superuser)
    project, goal = portfolio["project"], portfolio["goal"]
    pages = {
        "/": "h1",
        "/alignment/": ".figure",
        "/alignment/map/": "#strategy-map",
        "/alignment/flags/": "h1",
        "/alignment/matrix/": "h1",
        f"/projects/{project.pk}/": "#project-flags",
        f"/projects/features/{portfolio['feature'].pk}/": "h1",
        f"/goals/{goal.pk}/": ".sparkline",
        f"/strategies/crm/{portfolio['crm'].pk}/": "h1",
        f"/strategies/business/{portfolio['business'].pk}/": "h1",
        "/admin/": "#content",
        f"/admin/projects/crmproject/{project.pk}/change/": "#content",
        "/admin/projects/crmproject/": "#changelist",
    }
    reported = {}
    for path, landmark in pages.items():
        page.goto(f"{live_server.url}{path}")
        expect(page.locator(landmark).first).to_be_visible()
        if found := violations():
            reported[path] = found
    assert reported == {}

    # Fragments htmx swaps in (a feature's inline edit and link forms) bring none either.
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.get_by_role("link", name="Edit “Deal registration”").click()
    expect(page.get_by_role("button", name="Save feature")).to_be_visible()
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.get_by_role("link", name="Link “Deal registration” to CRM strategies").click()
    expect(page.get_by_role("button", name="Save links")).to_be_visible()
    assert violations() == []


def test_the_api_docs_start_under_the_policy(page, live_server, violations, db):
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("CRM Strategy Alignment API")
    expect(page.locator(".opblock").first).to_be_visible()
    assert violations() == []


def test_retiring_a_goal_still_asks_first(page, live_server, login, violations, superuser):
    """Retire… opens a confirmation page with the change's impact (no script needed); its
    Cancel changes nothing, its button retires."""
    goal = BusinessGoal.objects.create(
        title="Grow revenue", owner=superuser, status=GoalStatus.ACTIVE
    )
    login(superuser)
    page.goto(f"{live_server.url}/goals/{goal.pk}/")

    # Cancelled: nothing happens.
    page.get_by_role("link", name="Retire…").click()
    expect(page.get_by_role("heading", name="Retire the goal “Grow revenue”?")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_load_state("networkidle")
    goal.refresh_from_db()
    assert goal.status == GoalStatus.ACTIVE

    # Confirmed: retired.
    page.get_by_role("link", name="Retire…").click()
    page.get_by_role("button", name="Retire").click()
    expect(page.locator(".message--success")).to_be_visible()
    goal.refresh_from_db()
    assert goal.status == GoalStatus.RETIRED
    assert violations() == []


def test_the_project_flag_panel_refreshes_itself_while_the_page_is_visible(
    page, live_server, login, violations, portfolio, superuser
):
    login(superuser)
    project = portfolio["project"]
    panel_url = f"/alignment/projects/{project.pk}/flags/"
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    for _ in range(2):  # it keeps polling, not just once
        with page.expect_request(lambda request: panel_url in request.url, timeout=8000):
            pass
    assert violations() == []
