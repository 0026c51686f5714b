"""manage.py bench at a tiny scale, so that it cannot rot: it prints every measure."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm_alignment.bench import PAGES, counting_queries
from crm_alignment.portfolio import Shape, generate_portfolio
from projects.models import CRMProject
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug_on(settings):
    """A development command; Django's test set-up turns DEBUG off."""
    settings.DEBUG = True


def bench(**options) -> str:
    out = StringIO()
    # The throughput measure starts gunicorn, which sees only committed data on PostgreSQL:
    # its own test below.
    options = {
        "repeat": 1,
        "recheck_runs": 2,
        "features_per_project": 3,
        "no_throughput": True,
        **options,
    }
    call_command("bench", stdout=out, **options)
    return out.getvalue()


def test_bench_prints_every_measure_at_a_tiny_scale():
    output = bench(projects=30)

    for measure in [
        "== 30 projects, 90 features",
        "full scan, first",
        "  then telling people",
        "flag.opened events, in their own task",
        "full scan, steady",
        "raw-SQL oracle",
        "flags = oracle: yes",
        "re-check after one edit",
        "| then its snapshot (its own transaction) |",
        "| the same with the snapshot |",
    ]:
        assert measure in output
    # The snapshot is timed apart from the scan's transaction, after each scan.
    assert output.count("  then its snapshot") == 2
    assert "with its snapshot)" in output
    rows = output.splitlines()
    for label, _, _ in PAGES:
        assert any(row.startswith(label) for row in rows), label
        assert f"| {label} p50 / p95 (queries, rows, size) |" in output
    assert "| what | 30 projects |" in output


def test_bench_measures_several_scales_one_after_the_other():
    output = bench(scales="15,25", features_per_project=2)

    assert "| what | 15 projects | 25 projects |" in output
    assert CRMProject.objects.count() == 25  # the last scale's portfolio is kept


def test_the_bench_counts_the_rows_and_queries_a_request_fetches():
    ProjectFactory.create_batch(3)

    with counting_queries() as (counter, captured):
        list(CRMProject.objects.all())
        CRMProject.objects.count()

    assert counter.rows == 3 + 1
    assert len(captured.captured_queries) == 2


def test_bench_refuses_a_database_with_projects_unless_reusing_them():
    ProjectFactory()
    with pytest.raises(CommandError, match="--reuse"):
        bench(projects=10)


def test_bench_reuses_the_portfolio_that_is_there():
    generate_portfolio(Shape(projects=20, features_per_project=2))

    output = bench(reuse=True)

    assert "== 20 projects, 40 features (reused)" in output
    assert CRMProject.objects.count() == 20
