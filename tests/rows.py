"""Count the rows a request fetches from the database, not only its queries.

A list can run a fixed number of queries and still read the whole table in one of them (a
`<select>` of every user, a list built in Python and cut to a page). `count_rows()` records,
for every statement run while it is open, how many rows Django fetched from its cursor:

    with count_rows() as rows:
        client.get(url)
    assert rows.total == ...

It wraps the fetch methods of each cursor that executes (through `connection.execute_wrapper`),
so it counts what crosses from the database into Python, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection


@dataclass
class Statement:
    sql: str
    rows: int = 0


@dataclass
class RowCount:
    statements: list[Statement] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(statement.rows for statement in self.statements)

    def report(self) -> str:
        """Each statement with its rows, for an assertion message."""
        return "\n".join(f"{s.rows:6d}  {s.sql[:200]}" for s in self.statements)


def _counting(fetch: Callable[..., Any], statement: Statement, one: bool) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = fetch(*args, **kwargs)
        if one:
            statement.rows += result is not None
        else:
            statement.rows += len(result)
        return result

    return wrapped


@contextmanager
def count_rows() -> Iterator[RowCount]:
    """Record the rows fetched by every statement run on the default connection meanwhile."""
    counted = RowCount()

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any):
        statement = Statement(sql)
        counted.statements.append(statement)
        result = execute(sql, params, many, context)
        # Django's cursor wrapper hands fetch calls to the driver's cursor; attributes set on the
        # wrapper come first, and are set again (for this statement) on its next execute.
        wrapper_cursor = context["cursor"]
        db, raw = wrapper_cursor.db, wrapper_cursor.cursor
        for name, one in (("fetchone", True), ("fetchmany", False), ("fetchall", False)):
            fetch = db.wrap_database_errors(getattr(raw, name))
            setattr(wrapper_cursor, name, _counting(fetch, statement, one))
        return result

    with connection.execute_wrapper(wrapper):
        yield counted


def scan_statements(captured: Any) -> int:
    """A scan's statements from a CaptureQueriesContext, but the notifications' bulk inserts of
    the events it emits: on SQLite Django splits an INSERT at 999 parameters, so their number
    grows with the rows there (one statement each on PostgreSQL; tests/notifications measures
    them)."""
    return len(
        [
            q
            for q in captured.captured_queries
            if not (q["sql"].startswith("INSERT") and '"notifications_' in q["sql"][:60])
        ]
    )
