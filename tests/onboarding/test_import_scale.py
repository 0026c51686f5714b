"""An import costs a fixed number of queries whatever its size (bulk paths, no query per row),
and reports its progress as it goes."""

import copy
import io

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from onboarding.importer import import_workbook
from tests.factories import UserFactory

from .conftest import SMALL, build_workbook

pytestmark = pytest.mark.django_db


def portfolio(projects: int) -> dict:
    rows = copy.deepcopy(SMALL)
    template = {name: rows[name][0] for name in rows if rows[name] and "Project" in rows[name][0]}
    rows["Projects"] = []
    for name in template:
        rows[name] = []
    for n in range(projects):
        title = f"Project {n:03d}"
        rows["Projects"].append({**SMALL["Projects"][0], "Title": title, "Manager": f"pm{n % 3}"})
        for name, row in template.items():
            rows[name].append({**row, "Project": title})
    return rows


def queries_of(rows, actor, **kw) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        report = import_workbook(
            io.BytesIO(build_workbook(rows)), filename="p.xlsx", actor=actor, dry_run=False, **kw
        )
    assert report.errors == [] and report.applied
    return len(queries), report


class _Undo(Exception):
    pass


def queries_undone(rows, actor) -> int:
    """The queries of an import that is then rolled back (so the next one starts empty)."""
    count = 0
    try:
        with transaction.atomic():
            count, _ = queries_of(rows, actor)
            raise _Undo
    except _Undo:
        pass
    return count


def test_importing_fifty_projects_takes_no_more_queries_than_importing_two(importer, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for n in range(3):
        UserFactory(username=f"pm{n}", roles=["project_manager"])
    UserFactory(username="sponsor", roles=["sponsor"])
    small = portfolio(2)
    small["Projects"][0]["Business owner"] = "someone@example.com"
    large = portfolio(50)
    large["Projects"][0]["Business owner"] = "someone@example.com"
    # Unmeasured first: the content types the history looks up are cached for the process, so
    # whichever import ran first in a worker paid 13 queries more.
    queries_undone(small, importer)
    small_count, large_count = queries_undone(small, importer), queries_undone(large, importer)
    # A query per row would add about 50 per kind; SQLite splits a bulk insert of wide rows
    # into a few statements (its limit on parameters), and the scan's statements vary by one
    # or two with what it finds: that is all the difference allowed.
    assert abs(large_count - small_count) <= 5, (small_count, large_count)


def test_progress_is_reported_as_the_rows_are_read_and_written_and_ends_at_the_total(importer):
    for n in range(3):
        UserFactory(username=f"pm{n}", roles=["project_manager"])
    UserFactory(username="sponsor", roles=["sponsor"])
    calls: list[tuple[int, int]] = []
    _, report = queries_of(portfolio(120), importer, progress=lambda d, t: calls.append((d, t)))
    total = report.total_rows
    assert total > 700
    assert calls[-1] == (total, total)
    done = [d for d, _ in calls]
    assert done == sorted(done), "progress never goes back"
    # At least every 1% of the rows, or every 1,000 rows.
    steps = [b - a for a, b in zip([0, *done], done, strict=False)]
    assert max(steps) <= 1000
    assert len(calls) >= 100
