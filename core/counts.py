"""Row counts kept as rows are written, so that a list of a whole big table does not count it
per request.

Counting 100,000 projects took PostgreSQL 4-8 ms of every `/api/projects/` request, and 1,000,000
features 30 ms of every `/api/features/` one: the page itself costs a few milliseconds. On
PostgreSQL, a table registered here (`register`, and `install` in a migration) has statement
triggers that add one `RowCount` row per statement that inserts or deletes rows (its number of
rows, or minus it; a TRUNCATE removes them all), in the writer's transaction. The table's number
of rows is then the sum of its `RowCount` rows: exact, as of the reader's snapshot like any
COUNT(*), and a few index entries to read. `compact` folds them into one, from a periodic task
(`core.tasks.compact_row_counts`).

`rows(queryset)` is what lists count with (`CountingPaginator`): the kept count when the
queryset is a whole registered table on PostgreSQL (no filter, search, join, DISTINCT or
grouping) and a count is kept for it, and `queryset.count()` otherwise — always on SQLite, the
zero-setup default, where nothing is installed. After a TRUNCATE nothing is kept until the next
write (an empty table is cheap to count). `recount` (`manage.py recount_rows`) counts the tables
again, for rows loaded with the triggers off.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core.paginator import Paginator
from django.db import connections, models, transaction
from django.db.models import QuerySet
from django.utils.functional import cached_property

from .models import RowCount

_COUNTED: set[str] = set()


def register(*counted: type[models.Model]) -> None:
    """The models whose tables have the triggers (`install`); called from their app's ready()."""
    _COUNTED.update(model._meta.db_table for model in counted)


def counted(model: type[models.Model]) -> bool:
    return model._meta.db_table in _COUNTED


def whole_table(queryset: QuerySet[Any]) -> bool:
    """Whether counting `queryset` counts every row of its model's table: nothing filters it,
    joins another table to it (an annotation or a column across a relation, `extra` tables),
    makes it distinct, groups, combines or slices it. Ordering and `select_related` join only
    when the statement is compiled, and a count drops them."""
    query = queryset.query
    return (
        not query.where
        and len(query.alias_map) <= 1
        and not query.extra_tables
        and not query.distinct
        and query.group_by is None
        and query.combinator is None
        and not query.is_sliced
        and not query.extra
    )


def _kept(queryset: QuerySet[Any]) -> bool:
    return (
        counted(queryset.model)
        and connections[queryset.db].vendor == "postgresql"
        and whole_table(queryset)
    )


def table_rows(model: type[models.Model], using: str = "default") -> int | None:
    """The number of rows of `model`'s table from its kept count (PostgreSQL, registered);
    None when nothing is kept for it: a TRUNCATE forgot it (the table is empty) or the
    triggers are not installed."""
    with connections[using].cursor() as cursor:
        cursor.execute(_SUM, [model._meta.db_table])
        total, changes = cursor.fetchone()
    return int(total) if changes else None


def rows(queryset: QuerySet[Any]) -> int:
    """`queryset.count()`, from the kept count when the queryset is a whole counted table."""
    if _kept(queryset):
        total = table_rows(queryset.model, queryset.db)
        if total is not None:
            return total
    return queryset.count()


class CountingPaginator(Paginator):
    """Django's Paginator, counting with `rows`: a page of a whole big table costs the page."""

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet):
            return rows(self.object_list)
        return super().count


def _locked(cursor: Any, tables: Sequence[str], mode: str) -> None:
    quote = connections[cursor.db.alias].ops.quote_name
    cursor.execute(f"LOCK TABLE {', '.join(quote(table) for table in tables)} IN {mode} MODE")


def compact(using: str = "default") -> int:
    """Fold each counted table's changes into one row; how many rows went. One transaction per
    table, which holds the counted table against a TRUNCATE (its trigger would not see the
    folded row before it commits). A writer's change not yet committed is not seen, so it
    stays, and is added to the folded sum when it commits."""
    if connections[using].vendor != "postgresql":
        return 0
    folded = 0
    for table in sorted(_COUNTED):
        with transaction.atomic(using), connections[using].cursor() as cursor:
            _locked(cursor, [table], "ACCESS SHARE")
            cursor.execute(_COMPACT, [table, table, table])
            folded += int(cursor.fetchone()[0])
    return folded


def recount(using: str = "default") -> dict[str, int]:
    """Count every counted table again and keep that (`manage.py recount_rows`): after a load
    that ran with triggers off, or twice. Writes to the tables wait meanwhile."""
    if connections[using].vendor != "postgresql":
        return {}
    found = {}
    with transaction.atomic(using), connections[using].cursor() as cursor:
        tables = sorted(_COUNTED)
        _locked(cursor, tables, "SHARE ROW EXCLUSIVE")
        quote = connections[using].ops.quote_name
        for table in tables:
            cursor.execute(_FORGET, [table])
            cursor.execute(_SEED.format(table=quote(table)), [table])
            cursor.execute(_SUM, [table])
            found[table] = int(cursor.fetchone()[0])
    return found


_TABLE = RowCount._meta.db_table
_SUM = f'SELECT COALESCE(SUM(delta), 0), COUNT(*) FROM {_TABLE} WHERE "table" = %s'  # noqa: S608
# Deletes the table's committed changes and inserts their sum, when there were several.
_COMPACT = f"""
    WITH gone AS (
        DELETE FROM {_TABLE} WHERE "table" = %s
        AND (SELECT COUNT(*) FROM {_TABLE} WHERE "table" = %s) > 1
        RETURNING delta
    ),
    folded AS (
        INSERT INTO {_TABLE} ("table", delta)
        SELECT %s, SUM(delta) FROM gone HAVING COUNT(*) > 0
    )
    SELECT COUNT(*) FROM gone
"""  # noqa: S608 - the table name is the model's
_FORGET = f'DELETE FROM {_TABLE} WHERE "table" = %s'  # noqa: S608
_SEED = f'INSERT INTO {_TABLE} ("table", delta) SELECT %s, COUNT(*) FROM {{table}}'  # noqa: S608


# --- Installing (migrations) -------------------------------------------------------------------

# One function for every counted table; each table's triggers pass no argument (TG_TABLE_NAME
# names the table).
FUNCTION = f"""
CREATE OR REPLACE FUNCTION core_count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {_TABLE} ("table", delta)
        SELECT TG_TABLE_NAME, COUNT(*) FROM new_rows HAVING COUNT(*) > 0;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO {_TABLE} ("table", delta)
        SELECT TG_TABLE_NAME, -COUNT(*) FROM old_rows HAVING COUNT(*) > 0;
    ELSIF TG_OP = 'TRUNCATE' THEN
        DELETE FROM {_TABLE} WHERE "table" = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END
$$
"""  # noqa: S608 - the table name is the model's


def install_function(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)


def uninstall_function(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS core_count_rows()")


def _triggers(table: str) -> Iterable[tuple[str, str]]:
    yield f"{table}_count_insert", "AFTER INSERT ON {t} REFERENCING NEW TABLE AS new_rows"
    yield f"{table}_count_delete", "AFTER DELETE ON {t} REFERENCING OLD TABLE AS old_rows"
    yield f"{table}_count_truncate", "AFTER TRUNCATE ON {t}"


def install(*tables: str) -> Any:
    """A RunPython function for a migration: the triggers on `tables` and their count so far.
    The table is locked against writes meanwhile (until the migration commits), so no row is
    counted twice or missed."""

    def forward(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        quote = schema_editor.quote_name
        # Every table at once, before any is counted: none stays locked while another is.
        names = ", ".join(quote(table) for table in tables)
        schema_editor.execute(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")
        for table in tables:
            schema_editor.execute(_FORGET, [table])
            schema_editor.execute(_SEED.format(table=quote(table)), [table])
            for name, when in _triggers(table):
                schema_editor.execute(
                    f"CREATE TRIGGER {quote(name)} {when.format(t=quote(table))} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION core_count_rows()"
                )

    return forward


def uninstall(*tables: str) -> Any:
    """The reverse of `install`."""

    def backward(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        quote = schema_editor.quote_name
        for table in tables:
            for name, _ in _triggers(table):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {quote(name)} ON {quote(table)}")
            schema_editor.execute(_FORGET, [table])

    return backward
