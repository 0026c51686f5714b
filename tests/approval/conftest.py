"""The approval workflow's tests share the API's and the pages' client fixtures."""

import pytest

from core import events
from tests.api.conftest import _fast_api_settings, api, chain  # noqa: F401
from tests.factories import ProjectFactory, RoadmapPhaseFactory, SuccessMetricFactory
from tests.web.conftest import as_user, queries_for  # noqa: F401


@pytest.fixture
def ready(pm, sponsor):
    """A proposed project its sponsor could approve (a metric, a roadmap), managed by `pm`."""
    project = ProjectFactory(title="Partner portal", manager=pm, sponsor=sponsor)
    SuccessMetricFactory(project=project)
    RoadmapPhaseFactory(project=project)
    return project


@pytest.fixture
def emitted():
    """Every event emitted while the test runs, with whether it was emitted inside a
    transaction that had not committed yet (a receiver of core.events.emitted)."""
    from django.db import connection

    seen = []

    def receiver(sender, events, **kwargs):
        for event in events:
            seen.append((event, connection.in_atomic_block))

    events.emitted.connect(receiver, weak=False)
    yield seen
    events.emitted.disconnect(receiver)
