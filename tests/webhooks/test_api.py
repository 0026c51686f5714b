"""/api/webhooks/: admins only; bad addresses and events refused with a 400 naming the field and
nothing saved; the secret shown once, then masked, and never in the history."""

import pytest

from core import events
from tests.factories import UserFactory
from webhooks.models import Webhook

from .conftest import api_for

pytestmark = pytest.mark.django_db


def body(url, **extra):
    return {"name": "Alerts", "url": url, "events": [events.FLAG_OPENED]} | extra


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://files.example.com/drop", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("javascript:alert(1)", "Only http:// and https://"),
        ("http://10.0.0.5/hook", "10.0.0.5, a private"),
        ("http://192.168.1.20:8080/hook", "192.168.1.20, a private"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254, a private"),
        ("http://[::1]:9000/hook", "::1, a private"),
        ("http://[::ffff:10.0.0.1]/hook", "a private"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://0.0.0.0:9000/hook", "a private"),
        ("https://crm.example.com/hook", "this application's own address"),
        ("https://CRM.example.com./api/", "this application's own address"),
        ("https://testserver/hook", "this application's own address"),
        ("http://user:pw@hooks.example.org/x", "Leave the user name and password out"),
        ("http://receiver.invalid/hook", "does not resolve"),
        ("http://hooks.example.org:99999/x", "Enter a valid URL"),
        ("http://[::1/x", "Enter a valid URL"),
        ("https://", "Enter a valid URL"),
    ],
)
def test_an_address_webhooks_may_not_reach_is_refused_naming_url(admin_api, url, message):
    response = admin_api.post("/api/webhooks/", body(url), format="json")
    assert response.status_code == 400, response.data
    assert list(response.data) == ["url"]
    assert message in " ".join(response.data["url"]), response.data
    assert not Webhook.objects.exists()


def test_loopback_is_refused_unless_the_admin_setting_allows_it(admin_api, receiver, settings):
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = []
    refused = admin_api.post("/api/webhooks/", body(receiver.url()), format="json")
    assert refused.status_code == 400
    assert "127.0.0.1, a private, loopback" in refused.data["url"][0]
    assert "WEBHOOK_ALLOWED_PRIVATE_NETWORKS" in refused.data["url"][0]
    # A name that resolves to loopback is refused as its address is.
    by_name = admin_api.post("/api/webhooks/", body("http://localhost:9/hook"), format="json")
    assert by_name.status_code == 400 and "a private, loopback" in by_name.data["url"][0]

    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.0/8"]
    allowed = admin_api.post("/api/webhooks/", body(receiver.url()), format="json")
    assert allowed.status_code == 201, allowed.data
    # Allowing a network does not allow the rest.
    other = admin_api.post("/api/webhooks/", body("http://10.1.2.3/"), format="json")
    assert other.status_code == 400


def test_an_edit_is_checked_like_a_create(admin_api, receiver):
    created = admin_api.post("/api/webhooks/", body(receiver.url()), format="json").data
    response = admin_api.patch(
        f"/api/webhooks/{created['id']}/", {"url": "http://10.0.0.9/"}, format="json"
    )
    assert response.status_code == 400 and list(response.data) == ["url"]
    assert Webhook.objects.get().url == receiver.url()


@pytest.mark.parametrize(
    ("events_sent", "message"),
    [
        ([], "This list may not be empty."),
        (["flag.opened", "job.finished"], "is not a valid choice"),
        (["webhook.paused"], "is not a valid choice"),
        (["no.such.event"], "is not a valid choice"),
    ],
)
def test_events_must_be_webhook_able_ones_of_the_catalogue(
    admin_api, receiver, events_sent, message
):
    response = admin_api.post(
        "/api/webhooks/", body(receiver.url(), events=events_sent), format="json"
    )
    assert response.status_code == 400
    assert message in str(response.data["events"])
    assert not Webhook.objects.exists()


def test_a_short_secret_is_refused(admin_api, receiver):
    response = admin_api.post("/api/webhooks/", body(receiver.url(), secret="short"), format="json")
    assert response.status_code == 400 and "at least 16" in response.data["secret"][0]


def test_the_secret_is_shown_once_then_masked(admin_api, admin_user, receiver):
    created = admin_api.post("/api/webhooks/", body(receiver.url()), format="json").data
    secret = created["secret"]
    assert created["secret_hint"] == f"…{secret[-4:]}"
    assert created["owner"] == admin_user.username
    for answer in (
        admin_api.get(f"/api/webhooks/{created['id']}/").data,
        admin_api.get("/api/webhooks/").data["results"][0],
        admin_api.patch(f"/api/webhooks/{created['id']}/", {"name": "X"}, format="json").data,
    ):
        assert "secret" not in answer and secret not in str(answer)
    # A blank secret on update keeps it; a new one replaces it.
    admin_api.patch(f"/api/webhooks/{created['id']}/", {"secret": ""}, format="json")
    assert Webhook.objects.get().secret == secret
    admin_api.patch(
        f"/api/webhooks/{created['id']}/", {"secret": "a-brand-new-secret-value"}, format="json"
    )
    assert Webhook.objects.get().secret == "a-brand-new-secret-value"


def test_the_history_records_edits_but_never_the_secret(admin_api, receiver):
    created = admin_api.post(
        "/api/webhooks/", body(receiver.url(), secret="s" * 20), format="json"
    ).data
    admin_api.patch(f"/api/webhooks/{created['id']}/", {"secret": "t" * 20}, format="json")
    admin_api.patch(f"/api/webhooks/{created['id']}/", {"name": "Renamed"}, format="json")
    history = admin_api.get(f"/api/webhooks/{created['id']}/history/").data["results"]
    assert [entry["action"] for entry in history][-1] == "created"
    assert any(entry["changes"].get("name") == ["Alerts", "Renamed"] for entry in history)
    assert "s" * 20 not in str(history) and "t" * 20 not in str(history)


@pytest.mark.parametrize("role", ["viewer", "executive", "project_manager", "sponsor", None])
def test_anyone_but_an_admin_is_refused_and_finds_no_webhook(admin_api, receiver, role):
    created = admin_api.post("/api/webhooks/", body(receiver.url()), format="json").data
    user = UserFactory(username="someone", roles=[role] if role else [])
    client = api_for(user)
    pk = created["id"]
    assert client.get("/api/webhooks/").status_code == 403
    assert client.post("/api/webhooks/", body(receiver.url()), format="json").status_code == 403
    for method, path in [
        ("get", f"/api/webhooks/{pk}/"),
        ("patch", f"/api/webhooks/{pk}/"),
        ("delete", f"/api/webhooks/{pk}/"),
        ("get", f"/api/webhooks/{pk}/deliveries/"),
        ("get", f"/api/webhooks/{pk}/history/"),
        ("post", f"/api/webhooks/{pk}/resume/"),
        ("post", f"/api/webhooks/{pk}/test/"),
    ]:
        assert getattr(client, method)(path, {}, format="json").status_code == 404, path
    assert Webhook.objects.get().name == "Alerts"


def test_the_delivery_log_costs_the_same_for_2_and_20_deliveries(
    admin_api, receiver, emit, django_assert_num_queries
):
    from .conftest import flag_event

    created = admin_api.post("/api/webhooks/", body(receiver.url()), format="json").data
    path = f"/api/webhooks/{created['id']}/deliveries/"
    emit(flag_event(1), flag_event(2))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as two:
        assert admin_api.get(path).data["count"] == 2
    emit(*(flag_event(n) for n in range(3, 21)))
    with django_assert_num_queries(len(two.captured_queries)):
        assert admin_api.get(path).data["count"] == 20
