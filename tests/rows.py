"""Rows fetched: how many rows the database hands to Python, query by query.

A query count alone does not show a page that loads the whole portfolio in one query; the
rows it fetches do. `RowsFetched` is a database execute wrapper (Django's
`connection.execute_wrapper`) that counts the rows each statement's cursor returns through
fetchone / fetchmany / fetchall, on SQLite and PostgreSQL alike (SQLite reports no rowcount
for a SELECT, so the fetches are counted, not `cursor.rowcount`).

    with rows_fetched() as fetched:
        client.get(url)
    fetched.total            # rows handed to Python
    fetched.queries          # statements run
    print(fetched.report())  # each statement with its rows, for a failing assertion

`assert_same_cost(small, big)` compares two measurements (queries and rows) and prints both
reports when they differ.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection as default_connection


@dataclass
class Statement:
    sql: str
    rows: int = 0


@dataclass
class RowsFetched:
    """Statements run and rows fetched while it is installed as an execute wrapper."""

    statements: list[Statement] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(statement.rows for statement in self.statements)

    @property
    def queries(self) -> int:
        return len(self.statements)

    def report(self) -> str:
        return "\n".join(
            f"{statement.rows:>6} rows  {statement.sql[:300]}" for statement in self.statements
        )

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statement = Statement(sql)
        self.statements.append(statement)
        result = execute(sql, params, many, context)
        cursor = context["cursor"]  # Django's CursorWrapper around the driver's cursor
        raw = cursor.cursor

        # Instance attributes shadow CursorWrapper.__getattr__, which hands these calls to the
        # driver's cursor; they stay in place until the wrapper's next execute replaces them.
        def fetchone() -> Any:
            row = raw.fetchone()
            if row is not None:
                statement.rows += 1
            return row

        def fetchmany(size: int = raw.arraysize) -> Any:
            rows = raw.fetchmany(size)
            statement.rows += len(rows)
            return rows

        def fetchall() -> Any:
            rows = raw.fetchall()
            statement.rows += len(rows)
            return rows

        cursor.fetchone, cursor.fetchmany, cursor.fetchall = fetchone, fetchmany, fetchall
        return result


@contextmanager
def rows_fetched(connection: Any = default_connection) -> Iterator[RowsFetched]:
    """Count the statements and the rows fetched inside the block."""
    fetched = RowsFetched()
    with connection.execute_wrapper(fetched):
        yield fetched


def assert_same_cost(small: RowsFetched, big: RowsFetched, what: str = "") -> None:
    """The same number of statements and of rows fetched for a small and a big portfolio."""
    if (small.queries, small.total) != (big.queries, big.total):
        raise AssertionError(
            f"{what}: {small.queries} queries / {small.total} rows for the small portfolio, "
            f"{big.queries} queries / {big.total} rows for the big one.\n"
            f"--- small\n{small.report()}\n--- big\n{big.report()}"
        )
