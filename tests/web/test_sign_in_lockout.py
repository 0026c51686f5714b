"""One lockout (django-axes) for every sign-in path: page login, /admin/login/ and the API
token endpoint. Failures count per username and per address; successes never count."""

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LIMIT = 3


@pytest.fixture(autouse=True)
def _three_failures_lock(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def superuser(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", "root@example.com", "root-pass-123")


def _admin_login(client, username, password, address="10.0.0.1"):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def _page_login(client, username, password, address="10.0.0.1", **headers):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        **headers,
    )


def _token(username, password, address="10.0.0.1", **headers):
    return APIClient(REMOTE_ADDR=address).post(
        "/api/auth/token/", {"username": username, "password": password}, format="json", **headers
    )


def test_admin_login_is_locked_after_the_failure_limit_and_refuses_the_right_password(
    client, superuser
):
    answers = [_admin_login(client, "root", "guess").status_code for _ in range(LIMIT)]
    right = _admin_login(client, "root", "root-pass-123")

    assert answers == [200] * (LIMIT - 1) + [429]
    assert right.status_code == 429
    body = right.content.decode()
    assert "Too many failed sign-in attempts" in body
    assert "Try again in 15 minutes" in body
    assert int(right["Retry-After"]) == 15 * 60
    assert "_auth_user_id" not in client.session


def test_twenty_correct_sign_ins_in_a_row_from_one_address_all_succeed(viewer):
    from django.test import Client

    answers = []
    for _ in range(20):
        client = Client()
        answers.append(_page_login(client, "viewer", PASSWORD).status_code)

    assert answers == [302] * 20
    assert not AccessAttempt.objects.exists()


def test_a_success_resets_that_usernames_failures(client, viewer):
    for _ in range(LIMIT - 1):
        _page_login(client, "viewer", "guess")
    assert _page_login(client, "viewer", PASSWORD).status_code == 302
    client.logout()

    # Counting starts again: LIMIT - 1 more failures do not lock.
    answers = [_page_login(client, "viewer", "guess").status_code for _ in range(LIMIT - 1)]
    assert answers == [200] * (LIMIT - 1)
    assert _page_login(client, "viewer", PASSWORD).status_code == 302


def test_failures_at_one_account_from_many_addresses_lock_that_account(client, viewer):
    answers = [
        _page_login(client, "viewer", "guess", address=f"10.9.0.{i}").status_code
        for i in range(LIMIT)
    ]
    # The owner, from an address that never failed, waits too; case does not dodge the count.
    owner = _page_login(client, " VIEWER ", PASSWORD, address="10.8.8.8")
    other_user = UserFactory(username="someone")
    unaffected = _page_login(client, other_user.username, PASSWORD, address="10.7.7.7")

    assert answers == [200] * (LIMIT - 1) + [429]
    assert owner.status_code == 429
    assert unaffected.status_code == 302


def test_failures_from_one_address_at_many_accounts_lock_that_address(client, viewer):
    answers = [_page_login(client, f"user{i}", "guess").status_code for i in range(LIMIT)]
    from_there = _page_login(client, "viewer", PASSWORD)
    elsewhere = _page_login(client, "viewer", PASSWORD, address="10.0.0.2")

    assert answers == [200] * (LIMIT - 1) + [429]
    assert from_there.status_code == 429
    assert elsewhere.status_code == 302


def test_a_forged_forwarded_for_header_does_not_dodge_the_address_count(client):
    answers = [
        _page_login(client, f"user{i}", "guess", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").status_code
        for i in range(LIMIT)
    ]
    assert answers[-1] == 429


def test_behind_one_trusted_proxy_the_forwarded_address_is_counted(client, settings):
    settings.API_NUM_PROXIES = 1
    proxy = "10.0.0.99"
    # The client prepends made-up addresses; the proxy appends the one it saw, which counts.
    spoofed = [
        _page_login(
            client,
            f"user{i}",
            "guess",
            address=proxy,
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.5",
        ).status_code
        for i in range(LIMIT)
    ]
    another_client = _page_login(
        client, "user-x", "guess", address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.6"
    )

    assert spoofed == [200] * (LIMIT - 1) + [429]
    assert another_client.status_code == 200
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {
        "203.0.113.5",
        "203.0.113.6",
    }


def test_the_token_endpoint_is_locked_the_same_way(viewer):
    answers = [_token("viewer", "guess", address=f"10.5.0.{i}").status_code for i in range(LIMIT)]
    right = _token("viewer", PASSWORD, address="10.5.1.1")

    assert answers == [400] * (LIMIT - 1) + [429]
    assert right.status_code == 429
    assert "Too many failed sign-in attempts" in right.json()["detail"]
    assert int(right["Retry-After"]) > 0


def test_failures_at_the_token_endpoint_lock_the_sign_in_page_too(client, viewer):
    for _ in range(LIMIT):
        _token("viewer", "guess")
    assert _page_login(client, "viewer", PASSWORD, address="10.4.4.4").status_code == 429


def test_a_token_success_resets_that_usernames_failures(viewer):
    for _ in range(LIMIT - 1):
        _token("viewer", "guess")
    assert _token("viewer", PASSWORD).status_code == 200
    assert [_token("viewer", "guess").status_code for _ in range(LIMIT - 1)] == [400] * (LIMIT - 1)


def test_the_admin_lists_locked_accounts_and_unlocking_lets_the_user_in(client, viewer, superuser):
    for i in range(LIMIT):
        _page_login(client, "viewer", "guess", address=f"10.6.0.{i}")
    assert _page_login(client, "viewer", PASSWORD, address="10.6.1.1").status_code == 429

    admin = APIClient()  # a plain Django test client with force_login
    admin.force_login(superuser)
    listing = admin.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200
    assert "viewer" in listing.content.decode()

    ids = [str(pk) for pk in AccessAttempt.objects.values_list("pk", flat=True)]
    unlock = admin.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert unlock.status_code == 302
    assert not AccessAttempt.objects.exists()

    from django.test import Client

    assert _page_login(Client(), "viewer", PASSWORD, address="10.6.1.1").status_code == 302


def test_the_lockout_page_says_how_long_to_wait(client, viewer, settings):
    settings.AXES_COOLOFF_TIME = __import__("datetime").timedelta(minutes=1)
    for _ in range(LIMIT):
        response = _page_login(client, "viewer", "guess")
    assert response.status_code == 429
    assert "Try again in 1 minute." in response.content.decode()
    assert response["Retry-After"] == "60"
