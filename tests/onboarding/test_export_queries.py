"""Export reads each sheet in a fixed number of queries, whatever the portfolio's size."""

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from onboarding.export import write_workbook
from tests.factories import (
    FeatureLinkFactory,
    KPICheckInFactory,
    ProjectCheckInFactory,
    ProjectLinkFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
)

pytestmark = pytest.mark.django_db


def add_projects(count: int) -> None:
    for _ in range(count):
        link = ProjectLinkFactory()
        FeatureLinkFactory(feature__project=link.project, crm_strategy=link.crm_strategy)
        SuccessMetricFactory(project=link.project)
        RoadmapPhaseFactory(project=link.project)
        ProjectCheckInFactory(project=link.project)
        KPICheckInFactory()


def export_queries(actor) -> int:
    with CaptureQueriesContext(connection) as queries:
        write_workbook(io.BytesIO(), actor=actor)
    return len(queries)


def test_exporting_thirty_projects_takes_as_many_queries_as_exporting_two(viewer):
    add_projects(2)
    export_queries(viewer)  # the viewer's roles are read once and kept on the user
    small = export_queries(viewer)
    add_projects(28)
    assert export_queries(viewer) == small
