"""Take the README's screenshots (docs/*.png) from a running app with the demo data.

    make demo && make scan        # the demo portfolio and a full scan (the dashboard's figures)
    make run                      # in another terminal: the app on http://127.0.0.1:8000
    .venv/bin/python scripts/screenshots.py [--url http://127.0.0.1:8000]

Each page is taken at desktop size (1366 wide, the whole page up to a height limit) and at
phone size (390 x 844, the first screen), signed in through the login form as the demo user
whose view the README shows. It drives Chromium through Playwright, like the browser tests
(CHROMIUM_PATH, or `chromium` on the PATH).
"""

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

from playwright.sync_api import FloatRect, Page, ViewportSize, sync_playwright

DOCS = Path(__file__).resolve().parents[1] / "docs"
PASSWORD = "align-demo-2026"  # the demo logins' published password (README, "Demo logins")
DESKTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}
# A long page is cut here on a desktop (the dashboard keeps its trend), to keep each file small.
MAX_DESKTOP_HEIGHT = {"sponsor-dashboard": 2800}


def sign_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
    if "/accounts/login/" in page.url:
        sys.exit(f"Could not sign in as {username!r}: run `make demo` first.")


def open_map_branch(page: Page) -> None:
    """The visual map with the projects of the CRM strategy that has most, as a fourth column
    (on a desktop: a phone's first screen shows the map's start, which scrolls sideways)."""
    if page.viewport_size == PHONE:
        return
    boxes = page.locator("g.flow-node[data-kind=crm_strategy]:has(a.flow-node__expand)")
    details = boxes.locator(".flow-node__detail").all_text_contents()
    counts = [int(m.group()) if (m := re.match(r"\d+", text)) else 0 for text in details]
    most = counts.index(max(counts))
    with page.expect_navigation():
        boxes.nth(most).locator("a.flow-node__expand").click()
    page.wait_for_load_state("networkidle")


def to_groups(page: Page) -> None:
    """On a phone the inbox's first screen is its filters: start the picture at the groups."""
    if page.viewport_size == PHONE:
        page.locator("#flag-groups").evaluate(
            "(table) => window.scrollTo(0, table.getBoundingClientRect().top + scrollY - 12)"
        )


def open_first(page: Page) -> None:
    """The list's first item (the project manager's first project, the first goal)."""
    with page.expect_navigation():
        page.locator("table tbody a").first.click()
    page.wait_for_load_state("networkidle")


# (file name, user, path, what to do on the page before the picture)
SHOTS = [
    ("sponsor-dashboard", "sponsor", "/alignment/", None),
    ("sponsor-map-visual", "sponsor", "/alignment/map/flow/", open_map_branch),
    ("sponsor-inbox", "sponsor", "/alignment/flags/?group=rule", to_groups),
    ("pm-project", "pm", "/projects/mine/", open_first),
    ("executive-goal", "executive", "/goals/", open_first),
]


def take(page: Page, name: str, phone: bool) -> Path:
    path = DOCS / f"{name}{'-phone' if phone else ''}.png"
    if phone:
        page.screenshot(path=str(path))
    else:
        height = min(
            page.evaluate("document.documentElement.scrollHeight"),
            MAX_DESKTOP_HEIGHT.get(name, 2100),
        )
        clip: FloatRect = {"x": 0, "y": 0, "width": DESKTOP["width"], "height": height}
        page.screenshot(path=str(path), full_page=True, clip=clip)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="where the app runs")
    args = parser.parse_args()
    url = args.url.rstrip("/")
    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for name, username, path, prepare in SHOTS:
            for phone in (False, True):
                context = browser.new_context(viewport=PHONE if phone else DESKTOP)
                page = context.new_page()
                sign_in(page, url, username)
                page.goto(f"{url}{path}")
                page.wait_for_load_state("networkidle")
                if prepare is not None:
                    prepare(page)
                saved = take(page, name, phone)
                print(f"{saved.relative_to(DOCS.parent)}: {saved.stat().st_size // 1024} kB")
                context.close()
        browser.close()


if __name__ == "__main__":
    main()
