"""The keyboard alone: Tab reaches every action of the representative pages (the dashboard, the
flag inbox, a project, the visual and the text strategy map), on a desktop and on a phone, and
each element it lands on is on screen with a focus ring that stands out (an outline of at least
2 px whose colour has 3:1 contrast with what is behind it; an SVG link's box border). A sponsor
acknowledges two flags together without touching the mouse."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from alignment import engine
from alignment.models import Flag, FlagState
from tests.browser.test_phone_layout import DESKTOP, PHONE, phone_context
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    FeatureFactory,
    FeatureLinkFactory,
    GoalFactory,
    ProjectFactory,
    ProjectLinkFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

# What has the focus, and whether a person can see that it has: on screen, and ringed.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const rgba = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const lin = (c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const contrast = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  // The colour behind the element: the first ancestor with an opaque background.
  const behind = () => {
    for (let up = el.parentElement; up; up = up.parentElement) {
      const colour = rgba(getComputedStyle(up).backgroundColor);
      if (colour.length === 3 || colour[3] === 1) return colour.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  let ring = '';
  if (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2) {
    if (contrast(rgba(style.outlineColor).slice(0, 3), behind()) >= 3) ring = 'outline';
  } else if (el.type === 'date' && !el.matches(':focus')) {
    // The calendar button inside a date field: the field is the active element but matches no
    // focus selector, and the ring is on the button (app.css, ::-webkit-calendar-picker-
    // indicator:focus-visible), which a page cannot read back.
    ring = 'calendar button';
  } else if (el instanceof SVGElement) {
    // An SVG link shows its focus on its box's border (see alignment.css).
    const rect = el.querySelector('rect');
    const rs = rect && getComputedStyle(rect);
    if (rs && parseFloat(rs.strokeWidth) >= 3 && rs.strokeDasharray === 'none'
        && contrast(rgba(rs.stroke).slice(0, 3), behind()) >= 3) ring = 'svg border';
  }
  const onScreen = box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0
    && box.top < innerHeight && box.left < innerWidth;
  return {
    name: (el.getAttribute('aria-label') || (el.labels && el.labels[0] && el.labels[0].innerText)
      || el.innerText || el.textContent || el.value || '')
      .trim().replace(/\\s+/g, ' ').slice(0, 60),
    tag: el.tagName.toLowerCase(),
    visible: onScreen && el.checkVisibility({ visibilityProperty: true, opacityProperty: true }),
    ring,
    outline: style.outlineStyle + ' ' + style.outlineWidth + ' ' + style.outlineColor,
  };
}"""


def tab_through(page, limit: int = 250) -> tuple[list[dict], list[str]]:
    """Press Tab from the top of the page until the focus leaves it (or comes round again);
    returns what was focused, in order, and the problems: an element off screen or unringed."""
    page.locator("body").focus()
    seen, problems = [], []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None or (seen and focused == seen[0]):
            break
        seen.append(focused)
        where = f"Tab {len(seen)}: <{focused['tag']}> {focused['name']!r}"
        if not focused["visible"]:
            problems.append(f"{where} is not visible")
        if not focused["ring"]:
            problems.append(f"{where} has no visible focus ring ({focused['outline']})")
    else:
        problems.append(f"still tabbing after {limit} presses")
    return seen, problems


def tab_to(page, name: str, key: str = "Tab", limit: int = 150) -> dict:
    """Press Tab (or Shift+Tab) until the element named `name` has the focus."""
    for _ in range(limit):
        focused = page.evaluate(FOCUSED)
        if focused and focused["name"] == name:
            return focused
        page.keyboard.press(key)
    raise AssertionError(f"{key} never reached {name!r}")


@pytest.fixture
def portfolio(sponsor, pm):
    goal = GoalFactory(title="Grow revenue while keeping margin")
    business = BusinessStrategyFactory(goal=goal, title="Win emerging markets")
    crm = CRMStrategyFactory(title="Enable local partners", serves=[business])
    traced = ProjectFactory(
        title="Partner portal", sponsor=sponsor, manager=pm, budget_technology=Decimal("3000")
    )
    ProjectLinkFactory(project=traced, crm_strategy=crm, rationale="Partners sell locally.")
    feature = FeatureFactory(project=traced, title="Partner onboarding")
    FeatureLinkFactory(feature=feature, crm_strategy=crm)
    untraced = [
        ProjectFactory(title=title, sponsor=sponsor, manager=pm)
        for title in ("Shiny dashboards", "Mobile app", "Loyalty scheme")
    ]
    engine.scan_full()
    return {"crm": crm, "traced": traced, "untraced": untraced}


# Each page, and the actions Tab must reach on it (accessible names, as a start of the text).
PAGES = {
    "dashboard": (
        "/alignment/",
        ["Run scan now", "Flag inbox", "Open the inbox", "Project serves no", "Show the numbers"],
    ),
    "inbox": (
        "/alignment/flags/",
        [
            "Run scan now",
            "Group by",
            "Filter",
            "With the selected flags",
            "Reason for the waivers",
            "Apply to selected flags",
            "Select Project serves no CRM strategy on Mobile app",
            "Acknowledge Project serves no CRM strategy on Mobile app",
            "Waive… Project serves no CRM strategy on Mobile app",
        ],
    ),
    "project": ("/projects/{traced}/", ["Approve", "Partner onboarding", "Enable local partners"]),
    "visual map": ("/alignment/map/flow/", ["Text tree", "Show the projects of", "Goal"]),
    "text map": ("/alignment/map/", ["Visual", "What lies under Win emerging markets"]),
}


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("name", sorted(PAGES))
def test_tab_reaches_every_action_and_each_one_shows_its_focus(
    browser, live_server, sponsor, portfolio, name, size
):
    path, expected = PAGES[name]
    context = phone_context(browser, live_server, sponsor)
    page = context.new_page()
    page.set_viewport_size(size)
    try:
        page.goto(f"{live_server.url}{path.format(traced=portfolio['traced'].pk)}")
        page.wait_for_load_state("networkidle")
        seen, problems = tab_through(page)
    finally:
        context.close()
    names = [focused["name"] for focused in seen]
    assert names and names[0] == "Skip to content", names[:3]
    if size is PHONE:
        # Folded behind the menu button, the navigation is skipped; the button is reached.
        assert "Menu" in names and "Goals" not in names, names
    else:
        assert "Goals" in names and "Menu" not in names, names
    missing = [want for want in expected if not any(n.startswith(want) for n in names)]
    assert not missing, f"Tab never reached {missing} on {path}; it reached {names}"
    assert not problems, "\n".join(problems)


def test_the_skip_link_moves_the_focus_past_the_header(browser, live_server, sponsor, portfolio):
    context = phone_context(browser, live_server, sponsor)
    page = context.new_page()
    page.set_viewport_size(DESKTOP)
    try:
        page.goto(f"{live_server.url}/alignment/flags/")
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_focused()
        assert page.evaluate(FOCUSED)["visible"]  # hidden above the page until focused
        page.keyboard.press("Enter")
        expect(page.locator("main")).to_be_focused()
        page.keyboard.press("Tab")
        # The next stop is the page's own first action, not the navigation again.
        assert page.evaluate("document.activeElement.closest('header') === null")
        assert page.evaluate("document.activeElement.closest('main') !== null")
    finally:
        context.close()


def test_the_menu_button_opens_the_navigation_from_the_keyboard(
    browser, live_server, sponsor, portfolio
):
    context = phone_context(browser, live_server, sponsor)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/alignment/")
        button = page.get_by_role("button", name="Menu")
        tab_to(page, "Menu")
        page.keyboard.press("Enter")
        expect(button).to_have_attribute("aria-expanded", "true")
        seen = []
        for _ in range(12):
            page.keyboard.press("Tab")
            seen.append(page.evaluate(FOCUSED))
        assert "Flags" in [focused["name"] for focused in seen], seen
        flags = tab_to(page, "Flags", key="Shift+Tab")
        assert flags["visible"] and flags["ring"], flags
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{live_server.url}/alignment/flags/")
    finally:
        context.close()


def test_a_sponsor_acknowledges_two_flags_together_with_the_keyboard_alone(
    browser, live_server, sponsor, portfolio
):
    first, second, untouched = (
        Flag.objects.get(rule="project.untraced", project=project)
        for project in portfolio["untraced"]
    )
    context = phone_context(browser, live_server, sponsor)
    page = context.new_page()
    page.set_viewport_size(DESKTOP)
    try:
        page.goto(f"{live_server.url}/alignment/flags/?rule=project.untraced")
        wanted = {first.pk, second.pk}
        for _ in range(150):
            page.keyboard.press("Tab")
            value = page.evaluate(
                "document.activeElement.type === 'checkbox' ? +document.activeElement.value : 0"
            )
            if value in wanted:
                page.keyboard.press("Space")
                wanted.discard(value)
            if not wanted:
                break
        assert not wanted, f"Tab never reached the checkboxes of flags {wanted}"
        expect(page.locator(f"#flag-{first.pk} input[type=checkbox]")).to_be_checked()
        expect(page.locator(f"#flag-{untouched.pk} input[type=checkbox]")).not_to_be_checked()
        # Back up to the bulk form; "Acknowledge" is its first choice.
        tab_to(page, "Apply to selected flags", key="Shift+Tab")
        expect(page.get_by_label("With the selected flags")).to_have_value("acknowledge")
        page.keyboard.press("Enter")

        expect(page.locator(".messages")).to_contain_text("Acknowledged 2 flags")
    finally:
        context.close()
    states = {flag.pk: Flag.objects.get(pk=flag.pk).state for flag in (first, second, untouched)}
    assert states == {
        first.pk: FlagState.ACKNOWLEDGED,
        second.pk: FlagState.ACKNOWLEDGED,
        untouched.pk: FlagState.OPEN,
    }
