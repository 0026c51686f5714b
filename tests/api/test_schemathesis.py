"""Schemathesis over every operation of the API, in-process against the WSGI app: generated
requests (valid and invalid), and every method the schema does not declare, never give a 5xx,
and every response matches the schema. Meta-tests show that every route under /api/ is in the
schema and every operation in the schema is one of the generated tests, so a new endpoint
cannot escape.

Deterministic cases and a small, derandomized number of fuzzed ones keep the default suite
fast."""

import json
import re

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis import checks

from core.middleware import offered_methods
from crm_alignment.wsgi import application
from tests.api.test_methods_not_offered import API_ROUTES
from tests.factories import (
    FeatureFactory,
    KPIFactory,
    ProjectCheckInFactory,
    ProjectFactory,
    ProjectLinkFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
)
from tests.tokens import token_for


def _schema_document() -> dict:
    # Built in-process from the URL configuration: the same document /api/schema/ serves.
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


DOCUMENT = _schema_document()
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.app = application
# Examples; the coverage phase: a deterministic set of boundary and invalid values per operation,
# and every method the schema does not declare for the path (PUT on a list, TRACE, QUERY, ...);
# then fuzzing, five derandomized cases per operation. Stateful runs are left out (slow).
schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])
schema.config.generation.update(max_examples=5, deterministic=True, no_shrink=True)


# No 5xx, and the answer (status, content type, headers, body) is what the schema documents.
# Not checked: that every schema-valid request is accepted (ids that do not exist, business
# rules such as "the target must differ from the baseline" are 400s the schema cannot express),
# that lenient inputs are refused (an unparsable page_size falls back to the default), and
# OPTIONS (DRF answers it with metadata).
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.missing_required_header,
    # A method the schema does not declare for a path answers 405 with an Allow header.
    checks.unsupported_method,
]


@pytest.fixture
def _keep_test_connection():
    """Calling the WSGI app directly fires request_finished, whose close_old_connections would
    close the connection that holds the test transaction (Django's test client detaches it
    the same way)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def admin_headers(admin_user, pm, sponsor):
    """An admin's token, and a small portfolio so that ids 1, 2, ... often exist."""
    project = ProjectFactory(manager=pm, sponsor=sponsor)
    ProjectLinkFactory(project=project)
    FeatureFactory(project=project)
    SuccessMetricFactory(project=project)
    RoadmapPhaseFactory(project=project)
    ProjectCheckInFactory(project=project)
    KPIFactory()
    return {"Authorization": f"Token {token_for(admin_user)}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=5,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_operation_never_errors_and_matches_its_schema(
    case, admin_headers, _keep_test_connection
):
    case.call_and_validate(headers=admin_headers, checks=CHECKS)


# --- Nothing escapes: every route is in the schema, every operation in the schema is tested.

# Under /api/ but not operations of the API: the schema and its docs page describe it, and the
# catch-all answers 404 for any other path (all three are in the method meta-test).
NOT_OPERATIONS = {"/api/schema/", "/api/docs/", "/api/"}
OPERATION_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _documented() -> set[str]:
    """ "METHOD /path/{id}/" for every operation in the schema document."""
    return {
        f"{method.upper()} {path}"
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method.upper() in OPERATION_METHODS
    }


def test_every_method_of_every_api_route_is_an_operation_in_the_schema():
    """Routes from the URL resolver with their parameters filled with 1, and the methods their
    views offer (what a 405's Allow lists); HEAD and OPTIONS are the framework's."""
    served = {
        f"{method} {path}"
        for path in API_ROUTES
        if path not in NOT_OPERATIONS
        for method in offered_methods(path)
        if method in OPERATION_METHODS
    }
    documented = {re.sub(r"\{\w+\}", "1", operation) for operation in _documented()}
    assert served, "no API routes found"
    assert not served - documented, f"served but not in the schema: {sorted(served - documented)}"
    assert not documented - served, f"in the schema but not served: {sorted(documented - served)}"


def test_every_operation_in_the_schema_is_a_schemathesis_test():
    """The pytest plugin makes one test above per operation schemathesis loads from the schema
    (schema.get_all_operations()); one it cannot load would be an error, not a test."""
    loaded = set()
    for result in schema.get_all_operations():
        operation = result.ok()  # an Err (an operation schemathesis could not load) has no ok()
        loaded.add(operation.label)
    assert loaded == _documented()
