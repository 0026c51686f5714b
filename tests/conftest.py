"""Shared fixtures: personas per role, eager tasks by default, service requirements."""

import os

import pytest

from crm_alignment.celery import app as celery_app

from .factories import UserFactory

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


@pytest.fixture(autouse=True)
def _eager_celery(request):
    """Tasks run inline unless a test asks for the real worker (marker `services`)."""
    if request.node.get_closest_marker("services"):
        yield
        return
    old = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = old


@pytest.fixture(autouse=True)
def _loose_password_reset_throttle(settings):
    """Several tests ask for a reset link from one address; the limit has its own tests
    (tests/web/test_accounts_and_home.py), which tighten it again. The sign-in lockout needs no
    loosening: it counts failures only, in the database, rolled back after each test."""
    settings.PASSWORD_RESET_THROTTLE = "10000/min"


@pytest.fixture
def executive(db):
    return UserFactory(username="exec", roles=["executive"])


@pytest.fixture
def pm(db):
    return UserFactory(username="pm", roles=["project_manager"])


@pytest.fixture
def other_pm(db):
    return UserFactory(username="pm2", roles=["project_manager"])


@pytest.fixture
def sponsor(db):
    return UserFactory(username="sponsor", roles=["sponsor"])


@pytest.fixture
def viewer(db):
    return UserFactory(username="viewer", roles=["viewer"])


@pytest.fixture
def admin_user(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("admin", "admin@example.com", "admin-pass-123")


@pytest.fixture
def nobody(db):
    """Signed in, but with no role: sees nothing."""
    return UserFactory(username="nobody")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test databases, with one more step before they are dropped: on
    PostgreSQL, end every other session still connected to them. A subprocess a test started
    (a Celery worker, gunicorn) or killed may still be leaving when the run ends, and DROP
    DATABASE refuses while any session is connected: the database was left behind with a
    teardown warning."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for alias in connections:
            if connections[alias].vendor == "postgresql":
                _end_other_sessions(connections[alias])


def _end_other_sessions(conn, timeout: float = 10.0) -> None:
    import time

    others = (
        "SELECT pid FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + timeout
    with conn.cursor() as cursor:
        cursor.execute(f"SELECT pg_terminate_backend(pid) FROM ({others}) AS other")
        while time.monotonic() < deadline:
            cursor.execute(others)
            if not cursor.fetchall():
                return
            time.sleep(0.1)


def require_or_skip(condition: bool, reason: str) -> None:
    """Skip locally when a service is missing; under REQUIRE_SERVICES=1 (CI), fail instead."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


POSTGRES_ONLY = pytest.mark.skip(
    reason="PostgreSQL + Redis mode only: set DATABASE_URL=postgres://... (CI's 2nd pass)"
)


LAYOUT_ONCE = pytest.mark.skip(
    reason="layout and accessibility of the pages' HTML: checked in the SQLite pass (CI's 1st)"
)


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` check PostgreSQL-only behaviour (advisory locks, a real worker
    sharing the test database). A run configured for SQLite (the zero-setup default and CI's
    first pass) is not missing a service, it is the other mode: skip them there, before their
    database fixtures are set up (a transactional test flushes the database when it ends).
    CI's second pass, on PostgreSQL, runs them; a missing Redis fails under REQUIRE_SERVICES.

    Tests marked `layout_only` (every page at a phone's and a desktop's size, through axe)
    check what Chromium makes of the templates' HTML and CSS, which the database does not
    change; at a quarter of an hour of a worker they run once, in the SQLite pass."""
    from django.conf import settings

    postgresql = "postgresql" in settings.DATABASES["default"]["ENGINE"]
    for item in items:
        if postgresql and item.get_closest_marker("layout_only"):
            item.add_marker(LAYOUT_ONCE)
        elif not postgresql and item.get_closest_marker("postgres"):
            item.add_marker(POSTGRES_ONLY)
