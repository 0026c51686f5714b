"""API tokens (django-rest-knox): hashed in the database, expiring, revocable by the user, and
revoked by a password change or deactivation."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import PASSWORD
from tests.tokens import token_for

pytestmark = pytest.mark.django_db


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _sign_in(username="viewer") -> dict:
    response = APIClient().post(
        "/api/auth/token/", {"username": username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    return response.json()


def test_the_token_endpoint_answers_a_token_and_its_expiry_thirty_days_out(viewer):
    from django.utils import timezone
    from django.utils.dateparse import parse_datetime

    body = _sign_in()

    assert set(body) == {"token", "expiry"}
    expiry = parse_datetime(body["expiry"])
    assert abs(expiry - (timezone.now() + datetime.timedelta(days=30))) < datetime.timedelta(
        minutes=1
    )
    assert _client(body["token"]).get("/api/goals/").status_code == 200


def test_tokens_are_stored_hashed_never_the_plain_key(viewer):
    key = _sign_in()["token"]

    stored = AuthToken.objects.get(user=viewer)
    assert key not in {stored.digest, stored.token_key}
    assert stored.token_key == key[: len(stored.token_key)] and len(stored.token_key) < len(key)
    assert len(stored.digest) == 128  # a SHA-512 digest


def test_a_token_is_refused_after_it_expires(viewer, settings):
    from datetime import timedelta

    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": timedelta(seconds=1)}
    key = _sign_in()["token"]
    assert _client(key).get("/api/goals/").status_code == 200

    AuthToken.objects.filter(user=viewer).update(
        expiry=AuthToken.objects.get(user=viewer).created - timedelta(seconds=1)
    )

    assert _client(key).get("/api/goals/").status_code == 401
    assert not AuthToken.objects.filter(user=viewer).exists()  # knox removes it on sight


def test_a_request_reads_its_token_user_and_roles_in_one_query(viewer):
    client = _client(_sign_in()["token"])

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/departments/").status_code == 200

    token_queries = [q["sql"] for q in queries.captured_queries if "knox_authtoken" in q["sql"]]
    assert len(token_queries) == 1, token_queries
    assert "auth_user" in token_queries[0]  # the user comes with it, and their roles:
    role_queries = [
        q["sql"]
        for q in queries.captured_queries
        if "auth_user_groups" in q["sql"] and "knox_authtoken" not in q["sql"]
    ]
    assert role_queries == []


def test_the_token_statement_is_compiled_once_not_per_request(viewer, monkeypatch):
    from django.db.models.sql.compiler import SQLCompiler

    client = _client(_sign_in()["token"])
    assert client.get("/api/departments/").status_code == 200
    compiled = []
    as_sql = SQLCompiler.as_sql

    def recording(self, *args, **kwargs):
        sql, params = as_sql(self, *args, **kwargs)
        compiled.append(sql)
        return sql, params

    monkeypatch.setattr(SQLCompiler, "as_sql", recording)

    assert client.get("/api/departments/").status_code == 200
    assert compiled, "the request compiled nothing at all: the recording is not in place"
    assert not [sql for sql in compiled if "knox_authtoken" in sql]


def test_the_user_a_token_signs_in_is_the_whole_stored_user(viewer):
    from django.contrib.auth import get_user_model

    viewer.email, viewer.first_name = "v@example.org", "Vera"
    viewer.save()
    key = _sign_in()["token"]

    user = _client(key).get("/api/goals/").wsgi_request.user

    stored = get_user_model().objects.get(pk=viewer.pk)
    fields = [field.attname for field in stored._meta.concrete_fields]
    assert [getattr(user, name) for name in fields] == [getattr(stored, name) for name in fields]
    assert user._state.adding is False and user._state.db == "default"


@pytest.mark.parametrize("roles", [[], ["viewer"], ["executive", "sponsor"]])
def test_a_token_request_reads_the_users_roles_as_stored_each_time(roles, api):
    from core.permissions import user_roles
    from tests.factories import UserFactory

    user = UserFactory(roles=roles)
    client = api(user)

    assert user_roles(client.get("/api/goals/").wsgi_request.user) == frozenset(roles)
    user.groups.clear()
    assert user_roles(client.get("/api/goals/").wsgi_request.user) == frozenset()


def test_a_token_of_the_wrong_key_is_refused_even_with_a_known_prefix(viewer):
    key = _sign_in()["token"]
    forged = key[:15] + ("0" if key[15] != "0" else "1") + key[16:]

    assert _client(forged).get("/api/goals/").status_code == 401
    assert _client(key).get("/api/goals/").status_code == 200


def test_a_token_header_that_is_not_utf8_is_refused_with_401(viewer):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token \xe9\xe9")

    assert client.get("/api/goals/").status_code == 401


def test_issuing_a_token_deletes_the_users_expired_tokens_only(viewer, pm):
    from datetime import timedelta

    from django.utils import timezone

    expired, valid = _sign_in()["token"], _sign_in()["token"]
    someone_elses = token_for(pm)
    AuthToken.objects.filter(token_key=expired[:15]).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )
    AuthToken.objects.filter(user=pm).update(expiry=timezone.now() - timedelta(seconds=1))

    new = _sign_in()["token"]

    assert set(AuthToken.objects.filter(user=viewer).values_list("token_key", flat=True)) == {
        valid[:15],
        new[:15],
    }
    assert AuthToken.objects.filter(token_key=someone_elses[:15]).exists()


def test_delete_revokes_the_token_used_and_only_that_one(viewer):
    used, other = _sign_in()["token"], _sign_in()["token"]

    response = _client(used).delete("/api/auth/token/")

    assert response.status_code == 204
    assert _client(used).get("/api/goals/").status_code == 401
    assert _client(other).get("/api/goals/").status_code == 200


def test_delete_without_a_token_is_401(db):
    assert APIClient().delete("/api/auth/token/").status_code == 401


def test_a_password_change_revokes_all_of_the_users_tokens(viewer, pm):
    keys = [_sign_in()["token"] for _ in range(2)]
    someone_elses = token_for(pm)

    viewer.set_password("a-new-password-456")
    viewer.save()

    assert [_client(key).get("/api/goals/").status_code for key in keys] == [401, 401]
    assert _client(someone_elses).get("/api/goals/").status_code == 200


def test_changing_the_password_on_the_page_revokes_the_tokens(client, viewer):
    key = _sign_in()["token"]
    client.force_login(viewer)

    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-password-456",
            "new_password2": "a-new-password-456",
        },
    )

    assert response.status_code == 302
    assert _client(key).get("/api/goals/").status_code == 401


def test_deactivating_a_user_revokes_all_of_their_tokens(viewer):
    key = _sign_in()["token"]

    viewer.is_active = False
    viewer.save()

    assert not AuthToken.objects.filter(user=viewer).exists()
    viewer.is_active = True
    viewer.save()
    assert _client(key).get("/api/goals/").status_code == 401


def test_other_saves_of_a_user_keep_their_tokens(viewer):
    key = _sign_in()["token"]

    viewer.first_name = "Vera"
    viewer.save()

    assert _client(key).get("/api/goals/").status_code == 200


# --- the tokens page ------------------------------------------------------------------------


def test_the_tokens_page_lists_the_users_tokens_without_their_keys(client, viewer, pm):
    key = _sign_in()["token"]
    token_for(pm)
    client.force_login(viewer)

    html = client.get(reverse("api_tokens")).content.decode()

    stored = AuthToken.objects.get(user=viewer)
    assert stored.token_key in html
    assert key not in html
    assert html.count('name="token_key"') == 1  # not the other user's


def test_the_tokens_page_revokes_one_token(client, viewer):
    kept, revoked = _sign_in()["token"], _sign_in()["token"]
    prefix = AuthToken.objects.get(token_key=revoked[:15]).token_key
    client.force_login(viewer)

    response = client.post(reverse("api_tokens"), {"token_key": prefix})

    assert response.status_code == 302
    assert _client(revoked).get("/api/goals/").status_code == 401
    assert _client(kept).get("/api/goals/").status_code == 200


def test_the_tokens_page_cannot_revoke_someone_elses_token(client, viewer, pm):
    theirs = token_for(pm)
    client.force_login(viewer)

    client.post(reverse("api_tokens"), {"token_key": theirs[:15]})

    assert _client(theirs).get("/api/goals/").status_code == 200


def test_the_tokens_page_revokes_all_tokens(client, viewer):
    keys = [_sign_in()["token"] for _ in range(3)]
    client.force_login(viewer)

    client.post(reverse("api_tokens"), {"all": "1"})

    assert [_client(key).get("/api/goals/").status_code for key in keys] == [401] * 3
