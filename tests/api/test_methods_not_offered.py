"""TRACE, and methods nobody offers, answer 405 on every route: a meta-test over the URL
resolver, so a new route is covered without anyone listing it."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

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


def test_trace_on_the_project_list_is_405_even_anonymously(api):
    assert api().generic("TRACE", "/api/projects/").status_code == 405


def test_the_trace_action_still_answers_get_at_its_url(api, viewer, own_project):
    response = api(viewer).get(f"/api/projects/{own_project.pk}/trace/")
    assert response.status_code == 200
    assert response.json()["project"]["id"] == own_project.pk
