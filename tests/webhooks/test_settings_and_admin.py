"""Webhook settings fail loudly; the admin pages: webhooks through the services (the secret
shown once), the delivery log read-only and for admins alone."""

import re

import pytest
from django.core.management import call_command
from django.test import Client

from core import events
from tests.factories import UserFactory
from tests.foundation.test_settings import _setup_django
from webhooks.models import Delivery, Webhook

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", ["10.0.0.0/33", "intranet", "127.0.0.1,not-an-ip"])
def test_a_malformed_allowed_network_stops_start_up_naming_it(tmp_path, value):
    result = _setup_django(tmp_path, DJANGO_DEBUG="1", WEBHOOK_ALLOWED_PRIVATE_NETWORKS=value)
    assert result.returncode != 0
    assert "WEBHOOK_ALLOWED_PRIVATE_NETWORKS must list IP addresses" in result.stderr


def test_allowed_networks_and_site_url_are_read_from_the_environment(tmp_path):
    result = _setup_django(
        tmp_path,
        DJANGO_DEBUG="1",
        WEBHOOK_ALLOWED_PRIVATE_NETWORKS="10.20.0.0/16, 127.0.0.1",
        SITE_URL="https://crm.example.com/",
        code="from django.conf import settings; "
        "print(settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS, settings.SITE_URL)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['10.20.0.0/16', '127.0.0.1'] https://crm.example.com"


def test_check_warns_when_site_url_is_unset(settings, capsys):
    settings.SITE_URL = ""
    call_command("check")
    assert "webhooks.W001" in capsys.readouterr().err


def _admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_an_admin_adds_a_webhook_in_the_admin_and_sees_the_secret_once(admin_user, receiver):
    client = _admin_client(admin_user)
    response = client.post(
        "/admin/webhooks/webhook/add/",
        {
            "name": "Ops channel",
            "url": receiver.url(),
            "secret": "",
            "events": [events.FLAG_OPENED, events.APPROVAL_REQUESTED],
            "format": "slack",
            "is_active": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    webhook = Webhook.objects.get()
    assert webhook.owner == admin_user and len(webhook.secret) >= 32
    assert webhook.events == [events.FLAG_OPENED, events.APPROVAL_REQUESTED]
    assert webhook.secret in response.content.decode()
    # Afterwards only its hint.
    page = client.get(f"/admin/webhooks/webhook/{webhook.pk}/change/").content.decode()
    assert webhook.secret not in page and webhook.secret_hint in page


def test_the_admin_refuses_a_private_address_naming_the_field(admin_user, settings):
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = []
    response = _admin_client(admin_user).post(
        "/admin/webhooks/webhook/add/",
        {
            "name": "Internal",
            "url": "http://10.0.0.7/hook",
            "events": [events.FLAG_OPENED],
            "format": "json",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["url"] and "10.0.0.7, a private" in errors["url"][0]
    assert not Webhook.objects.exists()


def test_a_blank_secret_in_the_admin_keeps_the_stored_one(admin_user, receiver):
    webhook = Webhook.objects.create(
        name="Ops", url=receiver.url(), secret="k" * 40, events=["flag.opened"], owner=admin_user
    )
    _admin_client(admin_user).post(
        f"/admin/webhooks/webhook/{webhook.pk}/change/",
        {
            "name": "Ops renamed",
            "url": receiver.url(),
            "secret": "",
            "events": ["flag.opened"],
            "format": "json",
            "is_active": "on",
        },
    )
    webhook.refresh_from_db()
    assert webhook.name == "Ops renamed" and webhook.secret == "k" * 40


def test_the_delivery_log_in_the_admin_is_read_only(admin_user, receiver):
    webhook = Webhook.objects.create(
        name="Ops", url=receiver.url(), secret="k" * 40, events=["flag.opened"], owner=admin_user
    )
    delivery = Delivery.objects.create(
        webhook=webhook,
        event_type="flag.opened",
        event_key="flag.opened:1",
        payload={"event": "flag.opened"},
        status="given_up",
        attempts=5,
        response_code=503,
        error="HTTP 503",
        next_attempt_at=webhook.created_at,
    )
    client = _admin_client(admin_user)
    listing = client.get("/admin/webhooks/delivery/").content.decode()
    assert "given_up" in listing or "Given up" in listing
    assert re.search(r">\s*503\s*<", listing)
    assert client.get("/admin/webhooks/delivery/add/").status_code == 403
    detail = client.get(f"/admin/webhooks/delivery/{delivery.pk}/change/")
    assert detail.status_code == 200 and b'name="error"' not in detail.content
    client.post(f"/admin/webhooks/delivery/{delivery.pk}/change/", {"error": "rewritten"})
    delivery.refresh_from_db()
    assert delivery.error == "HTTP 503"


def test_staff_who_are_not_admins_do_not_see_webhooks_in_the_admin(receiver):
    staff = UserFactory(username="staffer", roles=["executive"])
    staff.is_staff = True
    staff.save()
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/webhooks/webhook/").status_code == 403
    assert client.get("/admin/webhooks/delivery/").status_code == 403
