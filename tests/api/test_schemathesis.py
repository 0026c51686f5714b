"""Schemathesis over every operation of the API, in-process against the WSGI app: generated
requests (valid and invalid) never give a 5xx, and every response matches the schema.

A small, derandomized number of examples per operation keeps the default suite fast."""

import json

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis import checks

from crm_alignment.wsgi import application
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


schema = schemathesis.openapi.from_dict(_schema_document())
schema.app = application
# Examples and fuzzing (valid and invalid data), five derandomized cases per operation; the
# exhaustive coverage phase and stateful runs are for a nightly job, not the default suite.
schema.config.phases.update(phases=["examples", "fuzzing"])
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
