"""Row counts kept as rows are written (core.counts): on PostgreSQL the whole project and
feature lists read the count of their table from what its triggers recorded, instead of counting
100,000s of rows per request. The kept count must equal COUNT(*) after every kind of write."""

import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from core import counts
from core.models import RowCount
from core.tasks import compact_row_counts
from projects.models import CRMProject, Feature, ProjectStatus
from tests.factories import FeatureFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def kept():
    """What each table's list reads: the kept count, or COUNT(*) when none is kept."""
    return counts.rows(CRMProject.objects.all()), counts.rows(Feature.objects.all())


def real():
    return CRMProject.objects.count(), Feature.objects.count()


def counted_the_table(captured, table):
    """Whether a captured statement was Django's count of `table` (filtered or not)."""
    return any(
        query["sql"].startswith(f'SELECT COUNT(*) AS "__count" FROM "{table}"')
        for query in captured.captured_queries
    )


# --- Which lists may read the kept count (both databases)


def test_only_a_whole_table_is_counted_from_what_was_kept():
    whole = CRMProject.objects.order_by("title", "pk").values_list("pk", flat=True)
    assert counts.whole_table(whole)
    assert counts.whole_table(CRMProject.objects.select_related("manager").order_by("-id"))
    for part in (
        CRMProject.objects.filter(status=ProjectStatus.ACTIVE),
        CRMProject.objects.exclude(title=""),
        CRMProject.objects.none(),
        CRMProject.objects.distinct(),
        CRMProject.objects.all()[:5],
        CRMProject.objects.filter(pk=1).union(CRMProject.objects.filter(pk=2)),
        CRMProject.objects.extra(where=["1 = 1"]),
        CRMProject.objects.extra(tables=["projects_feature"]),
        CRMProject.objects.annotate(feature=F("features__title")),
        CRMProject.objects.alias(feature=F("features__title")),
        CRMProject.objects.values_list("features__id"),
    ):
        assert not counts.whole_table(part), part.query


def test_rows_equals_count_for_whole_tables_and_parts():
    ProjectFactory.create_batch(3, status=ProjectStatus.ACTIVE)
    ProjectFactory(status=ProjectStatus.PROPOSED)
    assert counts.rows(CRMProject.objects.order_by("title")) == 4
    assert counts.rows(CRMProject.objects.filter(status=ProjectStatus.ACTIVE)) == 3
    assert counts.rows(CRMProject.objects.none()) == 0
    assert counts.rows(Feature.objects.all()) == 0


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite keeps no count")
def test_sqlite_counts_every_time():
    ProjectFactory.create_batch(2)
    with CaptureQueriesContext(connection) as captured:
        assert counts.rows(CRMProject.objects.all()) == 2
    assert counted_the_table(captured, "projects_crmproject")
    assert not RowCount.objects.exists()


# --- PostgreSQL: the triggers


@pytest.mark.postgres
def test_the_kept_count_follows_every_kind_of_write():
    assert kept() == real() == (0, 0)
    project = ProjectFactory()
    FeatureFactory.create_batch(3, project=project)
    assert kept() == real() == (1, 3)

    manager = UserFactory()
    CRMProject.objects.bulk_create(
        CRMProject(title=f"Bulk {n}", manager=manager, department=project.department)
        for n in range(5)
    )
    assert kept() == real() == (6, 3)

    with pytest.raises(RuntimeError), transaction.atomic():  # rolled back: not counted
        ProjectFactory.create_batch(2)
        raise RuntimeError
    assert kept() == real() == (6, 3)

    project.delete()  # its features go with it
    assert kept() == real() == (5, 0)
    CRMProject.objects.filter(title__startswith="Bulk").exclude(title="Bulk 0").delete()
    assert kept() == real() == (1, 0)

    with connection.cursor() as cursor:  # written around the ORM: counted all the same
        cursor.execute("DELETE FROM projects_crmproject")
    assert kept() == real() == (0, 0)


@pytest.mark.postgres
def test_the_list_reads_the_kept_count_of_a_whole_table_and_counts_a_filtered_one(api, viewer):
    ProjectFactory.create_batch(3, status=ProjectStatus.ACTIVE)
    project = ProjectFactory(status=ProjectStatus.PROPOSED)
    FeatureFactory.create_batch(2, project=project)
    client = api(viewer)
    for url, table, total in (
        ("/api/projects/", "projects_crmproject", 4),
        ("/api/features/", "projects_feature", 2),
    ):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, {"page_size": 1})
        assert response.status_code == 200
        assert response.json()["count"] == total
        assert not counted_the_table(captured, table), url

    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/projects/", {"status": "active"})
    assert response.json()["count"] == 3
    assert counted_the_table(captured, "projects_crmproject")


@pytest.mark.postgres
def test_the_projects_page_reads_the_kept_count(client, viewer):
    ProjectFactory.create_batch(30)
    client.force_login(viewer)
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/projects/")
    assert page.status_code == 200
    assert page.context["page_obj"].paginator.count == 30
    assert not counted_the_table(captured, "projects_crmproject")


@pytest.mark.postgres
def test_compacting_folds_the_changes_into_one_row_and_keeps_the_total():
    ProjectFactory.create_batch(4)
    FeatureFactory()
    before = kept()
    assert RowCount.objects.filter(table="projects_crmproject").count() > 1
    assert compact_row_counts.delay().get() > 2
    assert kept() == before == real()
    assert RowCount.objects.filter(table="projects_crmproject").count() == 1
    assert RowCount.objects.filter(table="projects_feature").count() == 1
    assert counts.compact() == 0  # one row each: nothing to fold
    assert kept() == before


@pytest.mark.postgres
def test_installing_counts_the_rows_already_there_once():
    ProjectFactory.create_batch(3)
    tables = ("projects_crmproject",)
    with connection.schema_editor(atomic=False) as editor:
        counts.uninstall(*tables)(None, editor)
        assert not RowCount.objects.filter(table="projects_crmproject").exists()
        ProjectFactory()  # no trigger: not recorded
        counts.install(*tables)(None, editor)
    assert counts.table_rows(CRMProject) == 4
    ProjectFactory()
    assert kept()[0] == real()[0] == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_truncating_a_table_forgets_its_count():
    FeatureFactory.create_batch(2)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE projects_crmproject CASCADE")  # features with it
    assert counts.table_rows(CRMProject) is None  # nothing kept: the list counts the table
    assert kept() == real() == (0, 0)
    ProjectFactory()
    assert counts.table_rows(CRMProject) == 1
    assert kept() == real() == (1, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_compacting_while_another_writer_is_uncommitted_loses_nothing():
    ProjectFactory.create_batch(2)
    inserted = threading.Event()
    go_on = threading.Event()
    failure = []
    department_id = CRMProject.objects.values_list("department_id", flat=True).first()

    def writer():
        try:
            with transaction.atomic():
                ProjectFactory.create_batch(3, department_id=department_id)
                inserted.set()
                go_on.wait(10)
        except Exception as exc:  # reported to the test below
            failure.append(exc)
            inserted.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    assert inserted.wait(10)
    counts.compact()  # the writer's changes are not committed: not seen, not folded
    assert counts.table_rows(CRMProject) == 2
    go_on.set()
    thread.join(10)
    assert not failure
    assert kept()[0] == real()[0] == 5
    counts.compact()
    assert kept()[0] == real()[0] == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_recounting_repairs_a_count_that_missed_rows_written_with_the_triggers_off(capsys):
    ProjectFactory.create_batch(2)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE projects_crmproject DISABLE TRIGGER USER")
        try:
            ProjectFactory.create_batch(3)  # as a restore or a replica would write them
        finally:
            cursor.execute("ALTER TABLE projects_crmproject ENABLE TRIGGER USER")
    assert counts.table_rows(CRMProject) == 2
    call_command("recount_rows")
    assert "projects_crmproject: 5 rows" in capsys.readouterr().out
    assert kept() == real() == (5, 0)
    assert RowCount.objects.filter(table="projects_crmproject").count() == 1


@pytest.mark.postgres
def test_without_its_triggers_a_table_is_counted_each_time():
    ProjectFactory.create_batch(2)
    with connection.schema_editor(atomic=False) as editor:
        counts.uninstall("projects_crmproject")(None, editor)
    assert counts.table_rows(CRMProject) is None
    ProjectFactory()
    with CaptureQueriesContext(connection) as captured:
        assert counts.rows(CRMProject.objects.all()) == 3
    assert counted_the_table(captured, "projects_crmproject")
