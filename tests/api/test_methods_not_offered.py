"""TRACE, and methods nobody offers, answer 405 on every route: a meta-test over the URL
resolver, so a new route is covered without anyone listing it. On the API, every method a route
does not offer answers 405 with an Allow header that lists exactly what it does offer, and no
method on any route answers a server error."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from core.middleware import KNOWN_METHODS
from projects.api import ProjectViewSet

pytestmark = pytest.mark.django_db

_GROUP = re.compile(r"\(\?P<\w+>[^)]*\)|<(?:\w+:)?\w+>")


def _routes(patterns=None, prefix: str = "") -> list[str]:
    """A concrete path for every route: each parameter filled with 1."""
    paths = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        pattern = str(entry.pattern)
        if "format" in pattern:  # DRF's `.json` suffix duplicates of the same views
            continue
        part = _GROUP.sub("1", pattern).lstrip("^").rstrip("$").replace("\\", "")
        if isinstance(entry, URLResolver):
            paths += _routes(entry.url_patterns, prefix + part)
        elif isinstance(entry, URLPattern):
            paths.append("/" + prefix + part)
    return sorted(set(paths))


ROUTES = _routes()
API_ROUTES = [path for path in ROUTES if path.startswith("/api/")]
PAGE_ROUTES = [path for path in ROUTES if not path.startswith("/api/")]


def test_the_resolver_walk_finds_the_api_and_the_pages():
    assert "/api/projects/" in API_ROUTES and "/api/projects/1/trace/" in API_ROUTES
    assert "/search/" in PAGE_ROUTES and len(PAGE_ROUTES) > 20


def test_the_project_viewset_has_no_method_the_http_trace_method_would_reach():
    assert not hasattr(ProjectViewSet, "trace")


@pytest.mark.parametrize("method", ["TRACE", "FOO"])
@pytest.mark.parametrize("path", API_ROUTES)
def test_a_method_no_api_route_offers_is_405(api, admin_user, path, method):
    response = api(admin_user).generic(method, path)
    assert response.status_code == 405, (path, response.status_code)
    assert "TRACE" not in response["Allow"]


@pytest.mark.parametrize("method", ["TRACE", "FOO"])
@pytest.mark.parametrize("path", PAGE_ROUTES)
def test_a_method_no_page_offers_is_405_for_a_signed_in_admin(client, admin_user, path, method):
    client.force_login(admin_user)
    response = client.generic(method, path)
    assert response.status_code == 405, (path, response.status_code)


# Every method a route here could be sent: the ones some route offers, and ones none does.
EVERY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
EVERY_METHOD += ("QUERY", "PROPFIND", "FOO")


def _allow(response) -> set[str]:
    return {method.strip() for method in response.get("Allow", "").split(",") if method.strip()}


@pytest.mark.parametrize("path", API_ROUTES)
def test_every_method_an_api_route_does_not_offer_is_405_naming_what_it_offers(
    api, admin_user, path
):
    """An empty request per method, as an admin (a fresh token each: DELETE /api/auth/token/
    revokes the one it is sent with). Allow is the route's own list, whoever answers the 405
    (the middleware for TRACE and made-up methods, the view for the rest)."""
    answers = {}
    for method in EVERY_METHOD:
        client = api(admin_user)
        client.raise_request_exception = False  # a 500 is reported below, not raised
        answers[method] = client.generic(method, path)
    assert not {m: r.status_code for m, r in answers.items() if r.status_code >= 500}
    offered = _allow(answers["TRACE"])
    assert offered and offered <= set(EVERY_METHOD) - {"TRACE"}, offered
    for method, response in answers.items():
        if method in offered:
            assert response.status_code != 405, (method, response.status_code)
        else:
            assert response.status_code == 405, (method, response.status_code)
            assert _allow(response) == offered, (method, response["Allow"])


@pytest.mark.parametrize("path", PAGE_ROUTES)
def test_no_method_on_a_page_is_a_server_error_for_a_signed_in_admin(client, admin_user, path):
    """The methods some route offers reach the page's view (the middleware answers the rest,
    see above); none of them may break it, whatever the view expects."""
    client.force_login(admin_user)
    client.raise_request_exception = False
    errors = {}
    for method in KNOWN_METHODS:
        status = client.generic(method, path).status_code
        if status >= 500:
            errors[method] = status
    assert not errors


def test_a_405_from_the_middleware_lists_only_what_the_route_offers(api, admin_user):
    response = api(admin_user).generic("TRACE", "/api/alignment/scan/")
    assert response.status_code == 405
    assert _allow(response) == {"POST", "OPTIONS"}


def test_options_on_the_api_docs_page_is_405_not_a_server_error(api):
    client = api()
    client.raise_request_exception = False
    response = client.options("/api/docs/")
    assert response.status_code == 405
    assert _allow(response) == {"GET", "HEAD"}


def test_trace_on_the_project_list_is_405_even_anonymously(api):
    assert api().generic("TRACE", "/api/projects/").status_code == 405


def test_the_trace_action_still_answers_get_at_its_url(api, viewer, own_project):
    response = api(viewer).get(f"/api/projects/{own_project.pk}/trace/")
    assert response.status_code == 200
    assert response.json()["project"]["id"] == own_project.pk
