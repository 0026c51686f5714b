"""The schema documents every status an operation answers, so generated clients (and
schemathesis's status check) know them: each status the permission matrix expects of a route,
412 on exactly the operations that honour If-Match, the 406, 415 and 429 the framework
answers before a view runs, and the 503 of a scan the task queue cannot take."""

import re

import pytest
from django.urls import reverse
from schemathesis import checks

from tests.api.test_permission_matrix import (
    MATRIX,
    _request,
    world,  # noqa: F401  (a fixture)
)
from tests.api.test_schemathesis import (
    CHECKS,
    DOCUMENT,
    _keep_test_connection,  # noqa: F401  (a fixture)
    schema,
)
from tests.faults.test_backing_services_down import broker_down  # noqa: F401  (a fixture)
from tests.tokens import token_for

pytestmark = pytest.mark.django_db

# The matrix also covers the schema, its docs page and the catch-all 404: not API operations.
NOT_OPERATIONS = {"api:schema", "api:docs", "api:not-found"}
ROWS = sorted(row for row in MATRIX if row[0] not in NOT_OPERATIONS)
# A version no object has reached: a stale If-Match for every object of the test world.
STALE = '"999999"'


def _operation(url_name: str, method: str, kind: str | None) -> dict:
    """The schema's operation for a matrix row (path parameters matched as 1)."""
    path = reverse(url_name, kwargs={"pk": 1} if kind else {})
    for template, item in DOCUMENT["paths"].items():
        if re.sub(r"\{\w+\}", "1", template) == path:
            return item[method]
    raise AssertionError(f"{method.upper()} {path} is not in the schema")


def _honours_if_match(operation: dict) -> bool:
    parameters = operation.get("parameters", [])
    return any(p["in"] == "header" and p["name"] == "If-Match" for p in parameters)


def _expected_statuses(expected: dict) -> set[int]:
    by_side = expected.values() if "own" in expected else [expected]
    return {status for answers in by_side for status in answers.values()}


@pytest.mark.parametrize(("url_name", "method"), ROWS)
def test_every_status_the_permission_matrix_expects_is_documented(url_name, method):
    kind, _, expected = MATRIX[(url_name, method)]
    documented = set(_operation(url_name, method, kind)["responses"])
    missing = {str(status) for status in _expected_statuses(expected)} - documented
    assert not missing, f"{method.upper()} {url_name} answers {sorted(missing)} undocumented"


@pytest.mark.parametrize(
    ("url_name", "method"), [row for row in ROWS if row[1] in ("post", "put", "patch", "delete")]
)
def test_a_stale_if_match_is_412_exactly_where_the_schema_documents_it(
    world,  # noqa: F811
    url_name,
    method,
):
    """As an admin (who may do every write), with the matrix's valid body: a write whose
    operation documents If-Match refuses a stale version with 412; any other ignores it."""
    kind, payload, _ = MATRIX[(url_name, method)]
    operation = _operation(url_name, method, kind)
    response = _request(world, url_name, method, kind, payload, "admin", "own", HTTP_IF_MATCH=STALE)
    if _honours_if_match(operation):
        assert "412" in operation["responses"]
        assert response.status_code == 412, response.content
        assert "since you opened it" in response.json()["detail"]
    else:
        assert "412" not in operation["responses"]
        assert response.status_code != 412, response.content


# --- Answers the framework gives before any view: what the schema says, body and headers.

CONFORMANCE = [check for check in CHECKS if check is not checks.unsupported_method]


@pytest.mark.usefixtures("_keep_test_connection")
def test_an_accept_header_that_excludes_json_is_the_documented_406(admin_user):
    case = schema["/api/goals/"]["GET"].Case()
    response = case.call(
        headers={"Authorization": f"Token {token_for(admin_user)}", "Accept": "text/csv"}
    )
    assert response.status_code == 406
    case.validate_response(response, checks=CONFORMANCE)


@pytest.mark.usefixtures("_keep_test_connection")
def test_a_body_in_a_media_type_no_parser_reads_is_the_documented_415(admin_user):
    case = schema["/api/goals/"]["POST"].Case(media_type="text/plain", body="A new goal")
    response = case.call(headers={"Authorization": f"Token {token_for(admin_user)}"})
    assert response.status_code == 415
    case.validate_response(response, checks=CONFORMANCE)


@pytest.mark.usefixtures("_keep_test_connection")
def test_a_locked_out_token_request_is_the_documented_429_with_retry_after(pm, settings):
    settings.AXES_FAILURE_LIMIT = 2
    case = schema["/api/auth/token/"]["POST"].Case(
        media_type="application/json", body={"username": "pm", "password": "guess"}
    )
    first = case.call()
    locked = case.call()
    assert (first.status_code, locked.status_code) == (400, 429)
    assert int(locked.headers["retry-after"][0]) > 0
    case.validate_response(locked, checks=CONFORMANCE)


# --- A fault answers what the schema says.


def test_the_scan_request_documents_503_with_the_error_body_and_retry_after():
    answer = DOCUMENT["paths"]["/api/alignment/scan/"]["post"]["responses"]["503"]
    body = answer["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Error"}
    error = DOCUMENT["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"] and error["properties"]["detail"]["type"] == "string"
    assert answer["headers"]["Retry-After"]["required"] is True


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("broker_down")
def test_a_scan_the_task_queue_cannot_take_answers_the_documented_503(sponsor):
    case = schema["/api/alignment/scan/"]["POST"].Case()
    response = case.call(headers={"Authorization": f"Token {token_for(sponsor)}"})

    assert response.status_code == 503
    # A 503 is this operation's documented answer to a fault, so "not a server error" is the
    # one check left out; the status, body and Retry-After must be what the schema says.
    case.validate_response(
        response, checks=[check for check in CHECKS if check is not checks.not_a_server_error]
    )
