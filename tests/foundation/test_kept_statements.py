"""Statements kept compiled (core.slots.KeptValues): compiled once per process, run with their
slots bound, on PostgreSQL prepared by psycopg; they answer what the queryset itself would."""

from decimal import Decimal

import pytest
from django.db import connection, connections
from django.db.models import Count, F
from django.test.utils import CaptureQueriesContext

from core.slots import InIds, KeptValues
from projects.models import CRMProject, SuccessMetric
from tests.factories import FeatureFactory, ProjectFactory, SuccessMetricFactory

pytestmark = pytest.mark.django_db


def metrics_of(ids):
    return SuccessMetric.objects.filter(project_id__in=ids).values(
        "project_id", "name", "baseline", "target"
    )


def test_rows_are_what_the_queryset_answers_for_the_bound_ids():
    projects = ProjectFactory.create_batch(3)
    for n, project in enumerate(projects):
        SuccessMetricFactory(project=project, name=f"M{n}", baseline=Decimal("1.5"))
    kept = KeptValues(
        lambda: SuccessMetric.objects.filter(InIds("project_id", "page")).values(
            "project_id", "name", "baseline", "target"
        )
    )
    for ids in ([projects[0].pk, projects[2].pk], [projects[1].pk], []):
        rows = kept.rows({"page": ids})
        assert rows == list(metrics_of(ids))
    assert isinstance(kept.rows({"page": [projects[0].pk]})[0]["baseline"], Decimal)


def test_an_annotation_named_between_fields_keeps_its_name():
    project = ProjectFactory(title="Named")
    FeatureFactory.create_batch(2, project=project)
    kept = KeptValues(
        lambda: (
            CRMProject.objects.filter(InIds("pk", "page"))
            .annotate(n_features=Count("features"), heading=F("title"))
            .values("heading", "id", "n_features", "status")
        )
    )
    assert kept.rows({"page": [project.pk]}) == [
        {"heading": "Named", "id": project.pk, "n_features": 2, "status": project.status}
    ]


def test_it_is_compiled_once_whatever_ids_are_bound():
    built = []

    def build():
        built.append(1)
        return CRMProject.objects.filter(InIds("pk", "page")).values("id")

    kept = KeptValues(build)
    projects = ProjectFactory.create_batch(2)
    assert kept.rows({"page": [projects[0].pk]}) == [{"id": projects[0].pk}]
    assert kept.rows({"page": [projects[1].pk]}) == [{"id": projects[1].pk}]
    assert len(built) == 1


def test_an_unbound_slot_is_an_error_not_an_empty_answer():
    kept = KeptValues(lambda: CRMProject.objects.filter(InIds("pk", "page")).values("id"))
    with pytest.raises(KeyError):
        kept.rows({})


def test_the_query_log_shows_the_statement_with_its_values():
    project = ProjectFactory()
    kept = KeptValues(lambda: CRMProject.objects.filter(InIds("pk", "page")).values("id"))
    with CaptureQueriesContext(connection) as captured:
        for _ in range(4):  # prepared from the third run on PostgreSQL
            kept.rows({"page": [project.pk]})
    assert len(captured) == 4
    for query in captured.captured_queries:
        assert query["sql"] is not None
        assert str(project.pk) in query["sql"]
        assert "$1" not in query["sql"]


@pytest.mark.postgres
def test_postgresql_prepares_it_once_a_connection_has_run_it_twice():
    project = ProjectFactory()
    kept = KeptValues(lambda: CRMProject.objects.filter(InIds("pk", "page")).values("id", "title"))

    def prepared():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                ['%"projects_crmproject"."title"%= ANY($1::bigint[])%'],
            )
            return cursor.fetchone()[0]

    kept.rows({"page": [project.pk]})
    assert prepared() == 0
    for _ in range(3):
        assert kept.rows({"page": [project.pk]}) == [{"id": project.pk, "title": project.title}]
    assert prepared() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_statement_prepared_before_a_column_changed_type_is_prepared_again():
    project = ProjectFactory(title="Kept")
    kept = KeptValues(lambda: CRMProject.objects.filter(InIds("pk", "page")).values("id", "title"))
    for _ in range(3):  # prepared on this connection
        kept.rows({"page": [project.pk]})
    other = connections.create_connection("default")  # a migration run from elsewhere
    try:
        with other.cursor() as cursor:
            cursor.execute("ALTER TABLE projects_crmproject ALTER COLUMN title TYPE varchar(201)")
        assert kept.rows({"page": [project.pk]}) == [{"id": project.pk, "title": "Kept"}]
        assert kept.rows({"page": [project.pk]}) == [{"id": project.pk, "title": "Kept"}]
    finally:
        with other.cursor() as cursor:
            cursor.execute("ALTER TABLE projects_crmproject ALTER COLUMN title TYPE varchar(200)")
        other.close()


def _timestamps_kept():
    return KeptValues(
        lambda: CRMProject.objects.filter(InIds("pk", "page")).values("id", "created_at")
    )


@pytest.mark.postgres
def test_timestamps_are_read_by_psycopgs_loader_as_the_same_moments(monkeypatch):
    from datetime import UTC, datetime

    from django.db.backends.postgresql import psycopg_any

    projects = [ProjectFactory(), ProjectFactory()]
    CRMProject.objects.filter(pk=projects[1].pk).update(
        created_at=datetime(1999, 12, 31, 23, 59, 59, 5, tzinfo=UTC)
    )
    ids = [project.pk for project in projects]
    expected = list(CRMProject.objects.filter(pk__in=ids).order_by("pk").values("id", "created_at"))

    def refuse(self, data):
        raise AssertionError("Django's timestamp loader was used")

    monkeypatch.setattr(psycopg_any.BaseTzLoader, "load", refuse)
    rows = sorted(_timestamps_kept().rows({"page": ids}), key=lambda row: row["id"])

    assert rows == expected
    assert [row["created_at"].tzinfo for row in rows] == [UTC, UTC]


@pytest.mark.postgres
def test_a_session_in_another_zone_keeps_djangos_timestamp_loader():
    from core.slots import _session_zone_is_djangos

    project = ProjectFactory()
    connection.ensure_connection()
    assert _session_zone_is_djangos(connection)
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Asia/Kolkata'")
    try:
        assert not _session_zone_is_djangos(connection)
        # Django's loader, as every other statement on this connection reads it.
        expected = list(CRMProject.objects.filter(pk=project.pk).values("id", "created_at"))
        assert _timestamps_kept().rows({"page": [project.pk]}) == expected
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE %s", [connection.timezone_name])
