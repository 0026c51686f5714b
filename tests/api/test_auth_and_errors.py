"""Token and session auth, throttling, and bad input that must never become a 500."""

import uuid

import pytest
from rest_framework.test import APIClient

from tests.factories import PASSWORD, GoalFactory

pytestmark = pytest.mark.django_db


def test_token_endpoint_gives_a_token_that_authenticates(api, viewer):
    response = api().post(
        "/api/auth/token/", {"username": "viewer", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get("/api/goals/").status_code == 200


def test_token_endpoint_refuses_bad_credentials_with_json(api, viewer):
    response = api().post(
        "/api/auth/token/", {"username": "viewer", "password": "wrong"}, format="json"
    )
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_token_endpoint_names_missing_fields(api):
    response = api().post("/api/auth/token/", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


def test_token_endpoint_is_throttled_against_guessing(api, viewer, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "3/min"},
    }
    # A client address of its own, so no other test (or xdist worker) shares the bucket.
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    client = APIClient(REMOTE_ADDR=address)
    answers = [
        client.post(
            "/api/auth/token/", {"username": "viewer", "password": "guess"}, format="json"
        ).status_code
        for _ in range(4)
    ]
    assert answers == [400, 400, 400, 429]
    assert "detail" in client.post("/api/auth/token/", {}, format="json").json()


def test_anonymous_requests_get_401_with_an_authenticate_challenge(api):
    response = api().get("/api/projects/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Token")


def test_a_wrong_token_is_401(api):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/goals/").status_code == 401


def test_session_auth_works_for_browser_users(client, viewer):
    client.force_login(viewer)
    assert client.get("/api/goals/").status_code == 200


def test_user_without_a_role_sees_empty_lists_and_404s(api, nobody):
    goal = GoalFactory()
    client = api(nobody)
    assert client.get("/api/goals/").json()["count"] == 0
    assert client.get(f"/api/goals/{goal.pk}/").status_code == 404


def test_malformed_json_is_a_400(api, executive):
    response = api(executive).post("/api/goals/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "query",
    [
        {"owner": "abc"},
        {"owner": "99999999999999999999999"},
        {"status": "ACTIVE"},
        {"page_size": "-5", "page": "x"},
    ],
)
def test_bad_filter_values_never_500(api, viewer, query):
    response = api(viewer).get("/api/goals/", query)
    assert response.status_code in (200, 400, 404)
    assert response.headers["Content-Type"].startswith("application/json")


def test_unknown_status_in_a_filter_is_a_400_naming_it(api, viewer):
    response = api(viewer).get("/api/projects/", {"status": "finished"})
    assert response.status_code == 400
    assert "status" in response.json()


@pytest.mark.parametrize("pk", ["abc", "99999999999999999999999", "-1", "1.5"])
def test_odd_ids_in_paths_are_404s(api, viewer, pk):
    response = api(viewer).get(f"/api/projects/{pk}/")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")


def test_unknown_api_paths_answer_json_404(api, viewer):
    for path in ("/api/nothing-here/", "/api/goals", "/api/"):
        response = api(viewer).post(path, {}, format="json")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}


def test_schema_describes_error_responses(api):
    response = api().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    create_goal = schema["paths"]["/api/goals/"]["post"]["responses"]
    assert {"201", "400", "401", "403"} <= set(create_goal)
    delete_goal = schema["paths"]["/api/goals/{id}/"]["delete"]["responses"]
    assert {"204", "404", "409"} <= set(delete_goal)
    assert "429" in schema["paths"]["/api/auth/token/"]["post"]["responses"]


def test_swagger_ui_is_served_without_a_cdn(api):
    response = api().get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower()
