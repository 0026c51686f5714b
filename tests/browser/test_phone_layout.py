"""Every page usable on a phone: at 390 x 844 no page scrolls sideways (wide tables scroll
inside their own box), and the navigation folds into a menu button that opens it. Every page
passes axe-core's checks with no serious or critical violation, on a phone and on a desktop.

The pages come from the page permission matrix (tests/web/test_page_matrix.py): every GET
route a role may open (200), with the ids of the matrix's own seeded world, so a new page is
checked here as soon as the matrix lists it. One browser context per role."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from tests.api.test_permission_matrix import world  # noqa: F401  (the shared fixture)
from tests.web.test_page_matrix import MATRIX, _url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.layout_only]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}
ROLES = ["executive", "sponsor", "project_manager", "viewer", "admin"]


def pages_for(w, role: str) -> list[str]:
    """The URL of every page the role may open, one object of its own for each {pk}."""
    urls = []
    for (url_name, method), (kind, expected) in sorted(MATRIX.items()):
        answers = expected.get("own", expected)
        if method == "get" and answers[role] == 200:
            url = _url(w, url_name, kind, "own")
            if url.endswith((".xlsx", ".csv", ".pdf")):
                continue  # a download (the spreadsheet exports, the board pack), not a page
            urls.append(url)
    return urls


def phone_context(browser, live_server, user, javascript: bool = True):
    """A phone-sized browser context signed in as the user (the session cookie Django made)."""
    context = browser.new_context(viewport=PHONE, java_script_enabled=javascript)
    if user is None:  # an anonymous visitor
        return context
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    return context


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


# For the failure message: the outermost elements that stick out past the right edge (not
# counting those inside a box that scrolls or clips them).
STICKING_OUT = """(limit) => {
  const out = (el) => el.getBoundingClientRect().right > limit + 0.5;
  const boxed = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible') return true;
    }
    return false;
  };
  return Array.from(document.body.querySelectorAll('*'))
    .filter((el) => out(el) && !out(el.parentElement) && !boxed(el))
    .slice(0, 3)
    .map((el) => el.outerHTML.slice(0, 80))
    .join(' | ');
}"""


# Buttons shown on a whole page (not an htmx fragment, which borrows its page's styles) that
# are less than 44 px tall: too small a target for a finger.
SMALL_BUTTONS = """() => !document.querySelector('.site-header') ? [] : Array.from(
    document.querySelectorAll('button, .button, input[type=submit], input[type=button]'))
  .filter((el) => el.checkVisibility({ visibilityProperty: true }))
  .filter((el) => el.getBoundingClientRect().height < 44)
  .slice(0, 3)
  .map((el) => (el.textContent || el.value).trim().slice(0, 30)
    + ' ' + Math.round(el.getBoundingClientRect().height) + 'px')"""


@pytest.mark.parametrize("role", ROLES)
def test_every_page_fits_a_phone_and_its_buttons_are_big_enough_to_tap(
    browser,
    live_server,
    world,  # noqa: F811
    role,
):
    urls = pages_for(world, role)
    assert len(urls) > 20, f"too few pages found for {role}: {urls}"
    context = phone_context(browser, live_server, world.users[role])
    page = context.new_page()
    too_wide, too_small = [], []
    try:
        for url in urls:
            response = page.goto(f"{live_server.url}{url}")
            assert response is not None and response.status == 200, f"{url}: {response}"
            width = page_width(page)
            if width > PHONE["width"]:
                culprits = page.evaluate(STICKING_OUT, PHONE["width"])
                too_wide.append(f"{url}: {width}px ({culprits})")
            small = page.evaluate(SMALL_BUTTONS)
            if small:
                too_small.append(f"{url}: {small}")
    finally:
        context.close()
    assert not too_wide, f"pages wider than {PHONE['width']}px for {role}:\n" + "\n".join(too_wide)
    assert not too_small, f"buttons under 44px tall for {role}:\n" + "\n".join(too_small)


def test_the_menu_button_opens_the_navigation_on_a_phone(browser, live_server, viewer):
    context = phone_context(browser, live_server, viewer)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/projects/")
        button = page.get_by_role("button", name="Menu")
        nav = page.get_by_role("navigation", name="Main")
        expect(button).to_be_visible()
        expect(button).to_have_attribute("aria-expanded", "false")
        expect(nav.get_by_role("link", name="Goals")).to_be_hidden()

        button.click()

        expect(button).to_have_attribute("aria-expanded", "true")
        expect(nav.get_by_role("link", name="Goals")).to_be_visible()
        heights = nav.get_by_role("link").evaluate_all(
            "(links) => links.map((a) => a.getBoundingClientRect().height)"
        )
        assert len(heights) == 10 and min(heights) >= 44, heights
        box = button.bounding_box()
        assert box is not None and box["height"] >= 44
        nav.get_by_role("link", name="Goals").click()
        expect(page).to_have_url(f"{live_server.url}/goals/")
        assert page_width(page) <= PHONE["width"]

        # On the next page it starts folded again; Escape and a second click fold it.
        expect(button).to_have_attribute("aria-expanded", "false")
        button.click()
        expect(nav.get_by_role("link", name="Home")).to_be_visible()
        page.keyboard.press("Escape")
        expect(button).to_have_attribute("aria-expanded", "false")
        expect(nav.get_by_role("link", name="Home")).to_be_hidden()
        button.click()
        button.click()
        expect(button).to_have_attribute("aria-expanded", "false")
        expect(nav.get_by_role("link", name="Home")).to_be_hidden()
    finally:
        context.close()


def test_without_javascript_the_navigation_stays_reachable_on_a_phone(browser, live_server, viewer):
    context = phone_context(browser, live_server, viewer, javascript=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/projects/")
        expect(page.get_by_role("button", name="Menu")).to_be_hidden()
        expect(
            page.get_by_role("navigation", name="Main").get_by_role("link", name="Goals")
        ).to_be_visible()
        assert page_width(page) <= PHONE["width"]
    finally:
        context.close()


@pytest.mark.parametrize("width", [1366, 1920])
def test_on_a_desktop_the_navigation_shows_without_a_menu_button(
    browser,
    live_server,
    world,  # noqa: F811
    width,
):
    context = phone_context(browser, live_server, world.users["executive"])
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    project = world.objects["own"]["project"].pk
    try:
        for url in [
            "/alignment/",
            "/alignment/matrix/",
            "/alignment/flags/",
            f"/projects/{project}/",
        ]:
            page.goto(f"{live_server.url}{url}")
            expect(page.get_by_role("button", name="Menu")).to_be_hidden()
            # Ten for everyone (Roadmap included), and Activity for an executive.
            nav_links = page.get_by_role("navigation", name="Main").get_by_role("link")
            expect(nav_links).to_have_count(11)
            for link in page.get_by_role("navigation", name="Main").get_by_role("link").all():
                expect(link).to_be_visible()
            expect(page.get_by_role("search")).to_be_visible()
            assert page_width(page) <= width, url
    finally:
        context.close()


# --- Accessibility: axe-core (shipped inside axe-playwright-python, no network) on every page.
#
# The app's Content-Security-Policy allows no inline script, and it is not loosened for the
# tests: axe-playwright-python hands axe's source to Playwright's page.evaluate, which runs it
# through the DevTools protocol, outside the page's CSP (an injected <script> would be refused).
AXE = Axe()
BLOCKING = ("serious", "critical")


def axe_violations(page) -> list[str]:
    """The serious and critical violations on the page as it is now, one line per rule: its id,
    impact, the selectors of (up to 5 of) the elements it fails on, and its help text."""
    found = []
    for violation in AXE.run(page).response["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
        found.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']}"
            f" — on {', '.join(targets[:5])}{' …' if len(targets) > 5 else ''}"
        )
    return found


# An htmx fragment is never shown on its own: it arrives inside its page, in the list or table
# its first element belongs to. It is checked there, in a full page's main region.
FRAGMENT_HOLDER = {"li": ("<ul>", "</ul>"), "tr": ("<table><tbody>", "</tbody></table>")}
SHOW_FRAGMENT = """(html) => {
  const holder = document.createElement('section');
  holder.setAttribute('aria-label', 'Part loaded in place');
  holder.innerHTML = html;
  document.querySelector('main').append(holder);
}"""


# Until htmx has no request in flight (it marks the element that sent one), so that what it
# loads in place is checked too. No page of the app loads anything in place as it opens (they
# poll after seconds, or load on a click), so this is seldom a wait; a fixed "network idle"
# (500 ms of quiet after every page) was about half of this test's time.
HTMX_IDLE = "() => !document.querySelector('.htmx-request')"


def show_fragment(page, live_server, html: str) -> None:
    first = re.match(r"\s*(?:<!--.*?-->\s*)*<([a-z]+)", html, re.DOTALL)
    before, after = FRAGMENT_HOLDER.get(first.group(1) if first else "", ("", ""))
    page.goto(f"{live_server.url}/")
    page.wait_for_function(HTMX_IDLE)
    page.evaluate(SHOW_FRAGMENT, before + html + after)


# One test per role and screen size, so that the test workers share them.
@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("role", ["anonymous", *ROLES])
def test_every_page_passes_axe_on_a_phone_and_a_desktop(
    browser,
    live_server,
    world,  # noqa: F811
    role,
    size,
):
    urls = pages_for(world, role)
    assert len(urls) >= (3 if role == "anonymous" else 20), f"too few pages for {role}: {urls}"
    context = phone_context(browser, live_server, world.users[role])
    page = context.new_page()
    page.set_viewport_size(size)
    problems = []
    try:
        for url in urls:
            response = page.goto(f"{live_server.url}{url}")
            assert response is not None and response.status == 200, f"{url}: {response}"
            if not response.headers.get("content-type", "").startswith("text/html"):
                continue  # data for a script (the department suggestions), not a page
            page.wait_for_function(HTMX_IDLE)
            html = response.text()
            if not html.lstrip().lower().startswith("<!doctype"):
                show_fragment(page, live_server, html)
            problems += [f"{size['width']}px {url}: {v}" for v in axe_violations(page)]
    finally:
        context.close()
    assert not problems, f"axe violations for {role}:\n" + "\n".join(problems)
