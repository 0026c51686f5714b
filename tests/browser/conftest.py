"""Browser tests: Playwright driving Debian's Chromium against Django's live server.

Without Chromium they skip with one clear reason; under REQUIRE_BROWSER=1 (CI) they fail.
"""

import os
import shutil
import threading
from pathlib import Path

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread

# pytest-django's database set-up runs inside Playwright's event loop; Django must allow it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _SerialisedOnSharedSQLite(ThreadedWSGIServer):
    """The live server, answering one request at a time when it shares the test's in-memory
    SQLite connection (pytest-django passes that one connection to every request thread).

    A page that loads two panels at once (a project page's flags and readiness, on
    `flagsChanged`) had two request threads run statements on that one connection together;
    once, both stopped inside SQLite and the test waited for ever. Each request now runs its
    view and its response's body under one lock. On PostgreSQL every request thread has a
    connection of its own, and requests run in parallel as before."""

    def set_app(self, application):
        if not self.connections_override:
            return super().set_app(application)
        lock = threading.Lock()

        def one_at_a_time(environ, start_response):
            with lock:
                result = application(environ, start_response)
                try:
                    return [b"".join(result)]
                finally:
                    if hasattr(result, "close"):
                        result.close()

        return super().set_app(one_at_a_time)


LiveServerThread.server_class = _SerialisedOnSharedSQLite


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    browser_items = [item for item in items if here in Path(str(item.fspath)).parents]
    for item in browser_items:
        item.add_marker(pytest.mark.browser)
    if Path(CHROMIUM).exists() and os.access(CHROMIUM, os.X_OK):
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        return  # let them run and fail loudly in CI
    skip = pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM}; browser tests skipped")
    for item in browser_items:
        item.add_marker(skip)


@pytest.fixture(autouse=True)
def _role_groups(request):
    """Live-server tests run on a transactional database, which is flushed after each test,
    taking the role groups the data migration made with it; put them back before each test."""
    if "live_server" not in request.fixturenames:
        return
    request.getfixturevalue("transactional_db")
    from django.contrib.auth.models import Group

    from core.roles import Role

    for role in Role:
        Group.objects.get_or_create(name=role.value)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1366, "height": 900}}


@pytest.fixture
def screenshot(page):
    """screenshot("name") saves var/screenshots/name.png (full page) for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def login(page, live_server):
    """login(user) signs in through the real login form."""
    from tests.factories import PASSWORD

    def sign_in(user) -> None:
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state("networkidle")

    return sign_in
