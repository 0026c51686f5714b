"""Hostile input answers 4xx, quickly, on every endpoint: deep or huge JSON bodies, NUL
characters, over-long id lists, methods a route does not offer, and writes that collide."""

import time

import pytest
from auditlog import get_logentry_model
from django.db import IntegrityError, connection, reset_queries
from django.urls import reverse

from core.api import exception_handler
from core.api_base import MAX_LIST_LENGTH
from core.parsers import MAX_JSON_DEPTH, json_depth
from projects.models import ProjectLink
from strategies.models import BusinessStrategy, CRMStrategy, StrategyStatus
from tests.factories import FeatureFactory

pytestmark = pytest.mark.django_db

# Each hostile request must be refused well within this (the 450 KB id list took 41 s).
BOUNDED_SECONDS = 2.0


def _timed(call):
    started = time.monotonic()
    response = call()
    assert time.monotonic() - started < BOUNDED_SECONDS
    return response


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _crm_strategies(owner, count: int) -> list[int]:
    CRMStrategy.objects.bulk_create(
        CRMStrategy(title=f"Bulk CRM strategy {n}", owner=owner, status=StrategyStatus.ACTIVE)
        for n in range(count)
    )
    return list(
        CRMStrategy.objects.filter(title__startswith="Bulk CRM").values_list("pk", flat=True)
    )


# --- JSON bodies


def test_json_depth_counts_brackets_outside_strings_only():
    assert json_depth(b'{"a": [1, {"b": "[[[[{{"}]}') == 3
    assert json_depth(b'"\\"[[["') == 0
    assert json_depth(b"") == 0


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_deeply_nested_json_to_the_unauthenticated_token_endpoint_is_a_400_naming_the_depth(
    api, depth
):
    response = _timed(
        lambda: api().post("/api/auth/token/", _nested(depth), content_type="application/json")
    )
    assert response.status_code == 400
    assert "nested deeper than" in response.json()["detail"]


def test_deeply_nested_json_to_a_resource_is_a_400(api, pm, own_project):
    body = '{"title": "x", "links": ' + _nested(50_000) + "}"
    response = _timed(
        lambda: api(pm).patch(
            f"/api/projects/{own_project.pk}/", body, content_type="application/json"
        )
    )
    assert response.status_code == 400
    assert "nested deeper than" in response.json()["detail"]


def test_json_at_a_sensible_depth_is_still_parsed(api, pm, own_project, chain):
    response = api(pm).patch(
        f"/api/projects/{own_project.pk}/",
        {"links": [{"crm_strategy": chain[2].pk, "rationale": "[{nested}] in text is fine"}]},
        format="json",
    )
    assert response.status_code == 200, response.json()


def test_a_json_body_over_the_size_limit_is_a_400_naming_the_limit(api, settings):
    """Refused from the Content-Length, before any of the body is read."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = '{"username": "' + "a" * 20_000 + '", "password": "x"}'
    response = _timed(lambda: api().post("/api/auth/token/", body, content_type="application/json"))
    assert response.status_code == 400
    assert "larger than the limit of 10000 bytes" in response.json()["detail"]


def test_a_nul_character_in_a_json_string_is_a_400(api, pm, own_project):
    response = api(pm).patch(
        f"/api/projects/{own_project.pk}/", {"title": "Portal\x00"}, format="json"
    )
    assert response.status_code == 400
    assert "Null characters are not allowed" in str(response.json())


def test_a_nul_character_in_a_json_key_to_the_token_endpoint_is_a_400(api):
    response = api().post(
        "/api/auth/token/",
        '{"user\\u0000name": "a", "password": "b"}',
        content_type="application/json",
    )
    assert response.status_code == 400


# --- NUL characters in query strings and forms


@pytest.mark.parametrize(
    "url", ["/search/?q=%00", "/projects/?status=%00", "/projects/?q=a%00b", "/goals/?x%00=1"]
)
def test_a_nul_character_in_a_page_query_is_a_400(client, admin_user, url):
    client.force_login(admin_user)
    response = client.get(url)
    assert response.status_code == 400


@pytest.mark.parametrize(
    "url", ["/api/projects/?status=%00", "/api/flags/?rule=%00", "/api/goals/?ordering=%00"]
)
def test_a_nul_character_in_an_api_filter_is_a_400_naming_the_parameter(api, viewer, url):
    response = api(viewer).get(url)
    assert response.status_code == 400
    name = url.split("?")[1].split("=")[0]
    assert response.json() == {name: ["Null characters are not allowed."]}


def test_a_nul_character_in_a_posted_form_is_a_400(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("projects:create"), {"title": "Portal\x00"})
    assert response.status_code == 400


# --- Id lists


@pytest.mark.parametrize("field", ["crm_strategies", "links"])
def test_a_project_id_list_over_the_cap_is_a_400_naming_the_field(api, pm, own_project, field):
    ids = list(range(1, MAX_LIST_LENGTH + 2))
    value = ids if field == "crm_strategies" else [{"crm_strategy": pk} for pk in ids]
    response = _timed(
        lambda: api(pm).patch(f"/api/projects/{own_project.pk}/", {field: value}, format="json")
    )
    assert response.status_code == 400
    assert field in response.json()


def test_a_450_kb_id_list_is_refused_in_bounded_time(api, pm, own_project):
    ids = list(range(1, 60_000))  # about 450 KB of JSON
    response = _timed(
        lambda: api(pm).patch(
            f"/api/projects/{own_project.pk}/", {"crm_strategies": ids}, format="json"
        )
    )
    assert response.status_code == 400
    assert "At most 200" in str(response.json()["crm_strategies"])


def test_a_business_strategy_list_over_the_cap_is_a_400_naming_the_field(api, executive, chain):
    response = api(executive).patch(
        f"/api/crm-strategies/{chain[2].pk}/",
        {"business_strategies": list(range(1, MAX_LIST_LENGTH + 2))},
        format="json",
    )
    assert response.status_code == 400
    assert "business_strategies" in response.json()


def test_a_feature_order_over_the_cap_is_a_400_naming_the_field(api, pm, own_project):
    response = api(pm).post(
        f"/api/projects/{own_project.pk}/reorder-features/",
        {"features": list(range(1, MAX_LIST_LENGTH + 2))},
        format="json",
    )
    assert response.status_code == 400
    assert "features" in response.json()


def test_an_id_too_large_for_any_column_is_a_400_not_a_500(api, pm, own_project):
    response = api(pm).patch(
        f"/api/projects/{own_project.pk}/", {"crm_strategies": [2**64]}, format="json"
    )
    assert response.status_code == 400
    assert "crm_strategies" in response.json()


def history_inserts(rows: int) -> int:
    """The INSERTs `rows` history entries take: one, or as many as the parameter limit needs."""
    entry = get_logentry_model()
    fields = [f for f in entry._meta.concrete_fields if not f.primary_key]
    per_insert = connection.ops.bulk_batch_size(fields, range(rows)) or rows
    return -(-rows // per_insert)


# Only `links` adds links: a bare id list cannot (a new link needs its rationale).
@pytest.mark.parametrize("field", ["links"])
def test_linking_200_crm_strategies_costs_the_same_queries_as_linking_2(
    api, pm, own_project, executive, field, django_assert_num_queries, django_assert_max_num_queries
):
    ids = _crm_strategies(executive, MAX_LIST_LENGTH)

    def body(chosen):
        return {
            field: [
                {"crm_strategy": pk, "rationale": "Serves this strategy, in bulk."} for pk in chosen
            ]
        }

    client = api(pm)
    url = f"/api/projects/{own_project.pk}/"
    client.patch(url, body(ids[-2:]), format="json")  # warm up: the token, the content types
    client.patch(url, {"crm_strategies": []}, format="json")
    # Each request resets the query log (request_started); start the count from empty.
    reset_queries()
    with django_assert_max_num_queries(1000) as small:
        assert client.patch(url, body(ids[:2]), format="json").status_code == 200
        expected = len(small.captured_queries)
    client.patch(url, {"crm_strategies": []}, format="json")
    # One INSERT for all the links, or as many as the database's parameter limit needs
    # (SQLite: 999 parameters, so 199 links a statement), never one per link.
    fields = [f for f in ProjectLink._meta.concrete_fields if not f.primary_key]
    per_insert = connection.ops.bulk_batch_size(fields, ids) or len(ids)
    # The same holds for their history entries (core.audit.log_rows): one INSERT, or as many
    # as the parameter limit needs for the history table's wider rows.
    inserts = -(-len(ids) // per_insert) + history_inserts(len(ids)) - 1
    reset_queries()
    assert expected > 0
    with django_assert_num_queries(expected + inserts - 1):
        response = client.patch(url, body(ids), format="json")
    assert response.status_code == 200, response.json()
    assert sorted(response.json()["crm_strategies"]) == sorted(ids)
    assert ProjectLink.objects.filter(project=own_project).count() == MAX_LIST_LENGTH


def test_serving_200_business_strategies_costs_the_same_queries_as_serving_2(
    api, executive, chain, django_assert_num_queries, django_assert_max_num_queries
):
    goal = chain[0]
    BusinessStrategy.objects.bulk_create(
        BusinessStrategy(goal=goal, title=f"Bulk {n}", owner=executive, status="active")
        for n in range(MAX_LIST_LENGTH)
    )
    ids = list(
        BusinessStrategy.objects.filter(title__startswith="Bulk").values_list("pk", flat=True)
    )
    client = api(executive)
    url = f"/api/crm-strategies/{chain[2].pk}/"
    client.patch(url, {"business_strategies": ids[-2:]}, format="json")
    client.patch(url, {"business_strategies": [chain[1].pk]}, format="json")
    # Each request resets the query log (request_started); start the count from empty.
    reset_queries()
    with django_assert_max_num_queries(1000) as small:
        response = client.patch(url, {"business_strategies": ids[:2]}, format="json")
        assert response.status_code == 200, response.json()
        expected = len(small.captured_queries)
    client.patch(url, {"business_strategies": [chain[1].pk]}, format="json")
    reset_queries()
    assert expected > 0
    # Each row of what it serves has a history entry, written in as few INSERTs as the
    # database's parameter limit allows (core.audit.log_rows), never one per row.
    with django_assert_num_queries(expected + history_inserts(len(ids)) - 1):
        response = client.patch(url, {"business_strategies": ids}, format="json")
    assert response.status_code == 200, response.json()
    assert sorted(response.json()["business_strategies"]) == sorted(ids)


# --- Writes that collide


def test_an_integrity_error_from_a_collision_is_a_409_saying_what_happened(rf):
    response = exception_handler(IntegrityError("FK violation"), {"request": rf.get("/")})
    assert response is not None and response.status_code == 409
    assert "deleted by another request" in response.data["detail"]


def test_a_feature_of_another_project_in_the_order_is_a_400(api, pm, own_project):
    mine = FeatureFactory(project=own_project)
    theirs = FeatureFactory()
    response = api(pm).post(
        f"/api/projects/{own_project.pk}/reorder-features/",
        {"features": [mine.pk, theirs.pk]},
        format="json",
    )
    assert response.status_code == 400


def test_a_json_body_over_the_limit_without_a_content_length_is_a_400(settings):
    """A chunked body has no Content-Length; the parser stops reading past the limit."""
    from io import BytesIO

    from rest_framework.exceptions import ParseError

    from core.parsers import JSONParser

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    with pytest.raises(ParseError, match="larger than the limit of 100 bytes"):
        JSONParser().parse(BytesIO(b'{"a": "' + b"x" * 1000 + b'"}'))
