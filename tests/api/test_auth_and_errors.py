"""Token and session auth, and bad input that must never become a 500."""

import pytest
from rest_framework.test import APIClient

from tests.factories import PASSWORD, DepartmentFactory, GoalFactory

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


# Guessing at the token endpoint is stopped by the sign-in lockout, the same count as the
# login pages: tests/web/test_sign_in_lockout.py.


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


def test_a_refused_search_term_is_a_400_naming_search(api, viewer):
    response = api(viewer).get("/api/goals/", {"search": "a\x00"})
    assert response.status_code == 400
    assert response.json() == {"search": ["Null characters are not allowed."]}


def test_a_bare_validation_error_is_still_a_map_of_field_to_messages(rf):
    from rest_framework.exceptions import ValidationError

    from core.api import exception_handler

    response = exception_handler(ValidationError("Something is off."), {"request": rf.get("/")})
    assert response is not None and response.status_code == 400
    assert response.data == {"non_field_errors": ["Something is off."]}


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/departments/", "is_it"),
        ("/api/projects/", "is_traceable"),
        ("/api/projects/", "is_linked"),
        ("/api/features/", "is_traceable"),
        ("/api/crm-strategies/", "is_anchored"),
    ],
)
def test_a_boolean_filter_refuses_values_other_than_true_or_false(api, viewer, url, name):
    response = api(viewer).get(url, {name: "maybe"})
    assert response.status_code == 400
    assert response.json() == {name: ["Must be true or false."]}


def test_every_list_endpoint_filters_and_sorts_through_one_core_filterset():
    """The FilterSet a list page would use: strict booleans, an `ordering` with a default."""
    import django_filters
    from rest_framework.mixins import ListModelMixin

    from core.filters import BooleanFilter, FilterSet, OrderingFilter
    from crm_alignment.api_urls import router

    listed = [viewset for _, viewset, _ in router.registry if issubclass(viewset, ListModelMixin)]
    assert listed
    for viewset in listed:
        filterset = viewset.filterset_class
        assert issubclass(filterset, FilterSet), viewset
        assert isinstance(filterset.base_filters.get("ordering"), OrderingFilter), viewset
        for name, filter_ in filterset.base_filters.items():
            if isinstance(filter_, django_filters.BooleanFilter):
                assert isinstance(filter_, BooleanFilter), f"{viewset.__name__}.{name}"


def test_boolean_filters_read_true_false_1_and_0(api, viewer, own_project, other_project):
    client = api(viewer)

    def ids(value: str) -> list[int]:
        response = client.get("/api/projects/", {"is_traceable": value})
        assert response.status_code == 200
        return [p["id"] for p in response.json()["results"]]

    assert ids("true") == ids("1") == ids("True") == [own_project.pk]
    assert ids("false") == ids("0") == [other_project.pk]
    assert sorted(ids("")) == sorted([own_project.pk, other_project.pk])


def test_departments_filter_on_is_it(api, viewer):
    it = DepartmentFactory(name="IT", is_it=True)
    sales = DepartmentFactory(name="Sales", is_it=False)
    client = api(viewer)
    assert [d["id"] for d in client.get("/api/departments/", {"is_it": "1"}).json()["results"]] == [
        it.pk
    ]
    assert sales.pk in [
        d["id"] for d in client.get("/api/departments/", {"is_it": "false"}).json()["results"]
    ]


@pytest.mark.parametrize("page", ["abc", "0", "99"])
def test_a_page_that_does_not_exist_is_a_json_404(api, viewer, page):
    response = api(viewer).get("/api/goals/", {"page": page})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


@pytest.mark.parametrize("user", [None, "viewer"])
def test_errors_are_json_even_when_the_client_asks_for_html(api, viewer, user):
    client = api(viewer if user else None)
    response = client.get("/api/goals/999999/", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response.headers["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


def test_a_browser_style_accept_header_gets_json(api, viewer):
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = api(viewer).get("/api/goals/999999/", HTTP_ACCEPT=accept)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "No BusinessGoal matches the given query."}


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
    token = schema["paths"]["/api/auth/token/"]["post"]["responses"]
    assert {"200", "400", "429"} <= set(token)
    assert "409" not in token  # the token exchange deletes nothing and changes no state


def test_schema_error_responses_say_what_they_mean(api):
    schema = api().get("/api/schema/", {"format": "json"}).json()
    responses = {
        **schema["paths"]["/api/goals/{id}/"]["delete"]["responses"],
        **schema["paths"]["/api/goals/"]["post"]["responses"],
        "429": schema["paths"]["/api/auth/token/"]["post"]["responses"]["429"],
    }
    descriptions = {code: responses[code]["description"] for code in responses if code >= "400"}
    assert descriptions == {
        "400": "Bad input: a map of field to messages.",
        "401": "Not authenticated.",
        "403": "Not allowed for your role.",
        "404": "Not found (or not visible to you).",
        "406": "Not acceptable: every answer is JSON; the Accept header must allow it.",
        "409": "Conflict: other records still depend on the object, it changed state meanwhile, "
        "or another request changed the same records at the same moment.",
        "412": "Precondition failed: the If-Match version is not the stored one; someone changed "
        "the object since you read it. GET it again (ETag) and re-apply your change.",
        "415": "Unsupported media type: send the body as JSON (or as a form).",
        "429": "Too many requests; retry after the number of seconds in Retry-After.",
    }


def test_swagger_ui_is_served_without_a_cdn(api):
    response = api().get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower()
