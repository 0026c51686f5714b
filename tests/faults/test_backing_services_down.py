"""Faults answer clearly, never 500: the cache (Redis) or the task queue (the broker) pointed at
a closed port. Signing in still works (the attempt limits fail open and log a warning), an edit
still saves (its re-check is lost, logged, and the periodic scan catches up), a scan request
answers 503 with a message, and no page or API list answers a server error.
"""

import time

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from alignment.models import Scan, ScanState
from crm_alignment.celery import app as celery_app
from tests.api.test_permission_matrix import MATRIX as API_MATRIX
from tests.api.test_permission_matrix import world  # noqa: F401  (the shared fixture)
from tests.factories import PASSWORD, ProjectFactory
from tests.web.test_page_matrix import MATRIX as PAGE_MATRIX
from tests.web.test_page_matrix import _url as page_url

pytestmark = pytest.mark.django_db

CLOSED_PORT = "redis://127.0.0.1:1/0"
# The clients' timeouts are a few seconds; a refused connection must not come near them.
QUICK_SECONDS = 5


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CLOSED_PORT,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.PASSWORD_RESET_THROTTLE = "10/min"  # on, so its fail-open path is what runs


@pytest.fixture
def broker_down(monkeypatch):
    """A real (not eager) publish to a broker on a closed port."""
    # Celery reads CELERY_BROKER_URL from the environment before its configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", CLOSED_PORT)
    conf = celery_app.conf
    old = (conf.task_always_eager, conf.broker_url, conf.broker_transport_options)
    conf.task_always_eager = False
    conf.broker_url = CLOSED_PORT
    conf.broker_transport_options = {"socket_connect_timeout": 1, "socket_timeout": 1}
    _forget_broker_connections()
    yield
    conf.task_always_eager, conf.broker_url, conf.broker_transport_options = old
    _forget_broker_connections()


def _forget_broker_connections():
    # The app keeps a connection pool, and a producer pool over it, for the broker it first
    # connected to; drop both so the next publish connects to the broker configured now.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def test_signing_in_works_while_the_cache_is_down(cache_down, pm, client):
    """The lockout counts failures in the database (django-axes), not in the cache."""
    response = client.post(reverse("login"), {"username": "pm", "password": PASSWORD})

    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_a_wrong_password_while_the_cache_is_down_is_refused_not_a_server_error(
    cache_down, pm, client
):
    response = client.post(reverse("login"), {"username": "pm", "password": "wrong"})

    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_a_password_reset_request_while_the_cache_is_down_is_accepted_and_logged(
    cache_down, pm, client, caplog
):
    response = client.post(reverse("password_reset"), {"email": pm.email})

    assert response.status_code == 302
    assert "Throttle PasswordResetThrottle not applied, the cache is unavailable" in caplog.text


def test_the_token_endpoint_works_while_the_cache_is_down(cache_down, pm):
    response = APIClient().post(
        "/api/auth/token/", {"username": "pm", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["token"]


@pytest.mark.django_db(transaction=True)
def test_a_scan_requested_while_the_broker_is_down_answers_503_quickly_and_is_recorded_failed(
    broker_down,
):
    from tests.factories import UserFactory

    sponsor = UserFactory(username="sponsor", roles=["sponsor"])
    client = APIClient()
    client.force_authenticate(sponsor)

    started = time.monotonic()
    response = client.post("/api/alignment/scan/")

    assert time.monotonic() - started < QUICK_SECONDS
    assert response.status_code == 503
    assert "task queue is unreachable" in response.json()["detail"]
    assert response["Retry-After"] == "60"
    scan = Scan.objects.get()
    assert scan.state == ScanState.FAILED and "could not be started" in scan.error


@pytest.mark.django_db(transaction=True)
def test_run_scan_now_while_the_broker_is_down_shows_a_message_on_the_dashboard(broker_down):
    from django.test import Client

    from tests.factories import UserFactory

    client = Client()
    client.force_login(UserFactory(username="sponsor", roles=["sponsor"]))

    response = client.post(reverse("alignment:scan"), follow=True)

    assert response.status_code == 200
    assert "task queue is unreachable" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_scan_requested_while_only_the_cache_is_down_runs_if_it_can_and_never_500s(cache_down):
    """The scan itself needs the cache only for its lock outside PostgreSQL (the "re-check
    pending" marks it clears are best effort). Tasks run in-process here, as with the broker
    up: on PostgreSQL the scan runs; elsewhere it cannot take its lock and says so."""
    from django.db import connection

    from tests.factories import UserFactory

    client = APIClient()
    client.force_authenticate(UserFactory(username="sponsor", roles=["sponsor"]))

    response = client.post("/api/alignment/scan/")

    scan = Scan.objects.get()
    if connection.vendor == "postgresql":
        assert response.status_code == 202
        assert scan.state == ScanState.DONE
    else:
        assert response.status_code == 503
        assert scan.state == ScanState.FAILED and "Connection refused" in scan.error


@pytest.mark.django_db(transaction=True)
def test_an_edit_saves_while_cache_and_broker_are_down_and_the_lost_recheck_is_logged(
    cache_down, broker_down, caplog
):
    from tests.factories import UserFactory

    manager = UserFactory(username="pm", roles=["project_manager"])
    project = ProjectFactory(manager=manager)
    client = APIClient()
    client.force_authenticate(manager)

    started = time.monotonic()
    response = client.patch(
        f"/api/projects/{project.pk}/", {"title": "Renamed in an outage"}, format="json"
    )

    assert time.monotonic() - started < QUICK_SECONDS
    assert response.status_code == 200
    project.refresh_from_db()
    assert project.title == "Renamed in an outage"
    assert "Could not queue the alignment re-check" in caplog.text


def _get_rows(matrix):
    return sorted((name, row[0]) for (name, method), row in matrix.items() if method == "get")


def test_no_page_answers_a_server_error_while_the_cache_is_down(
    cache_down,
    world,  # noqa: F811
    client,
):
    client.force_login(world.users["admin"])
    errors = []
    for name, kind in _get_rows(PAGE_MATRIX):
        url = page_url(world, name, kind, "own")
        status = client.get(url).status_code
        if status >= 500:
            errors.append(f"{url}: {status}")
    assert not errors


def test_no_api_list_or_detail_answers_a_server_error_while_the_cache_is_down(
    cache_down,
    world,  # noqa: F811
):
    client = APIClient()
    client.force_authenticate(world.users["admin"])
    errors = []
    for name, kind in _get_rows(API_MATRIX):
        url = reverse(name, kwargs={"pk": world.objects["own"][kind].pk} if kind else {})
        status = client.get(url).status_code
        if status >= 500:
            errors.append(f"{url}: {status}")
    assert not errors
