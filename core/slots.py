"""Values a statement takes when it runs rather than when it is built: the slots of the
statements compiled once and run many times — the engine's re-checks (alignment.engine) and the
API project list's page (`KeptValues`).

Django's compiler is most of a re-check's cost: about two thirds of it went into turning the
same querysets into the same SQL for every edit, with only the project's id, its groups' ids
and the scan's time differing. A statement built with slots instead of those values compiles
to SQL whose parameters hold a `Marker` where each value goes; `bind` puts the values in.

- `Slot(name, field)`: one value (the scan's time, the operation it runs for).
- `InIds(field, name)`: `field` is one of a list of ids. On PostgreSQL `= ANY(array)`: on
  Django's cursors (the engine's) the array is sent inline (client-side binding), so the
  planner sees how many ids there are and keeps its index scans; elsewhere `IN` the members of
  a JSON array (SQLite's json_each).

`KeptValues` keeps a `.values()` queryset compiled, and on PostgreSQL runs it on a cursor that
binds on the server, which psycopg prepares once a connection has run it twice
(`DATABASE_PREPARED_STATEMENTS`, on by default): after its first five runs PostgreSQL may keep
one generic plan for the connection rather than plan each run (for the project list's page it
does, with the same index scans). Planning those six statements cost PostgreSQL more than
running them, and compiling them cost Django as much again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import BooleanField, Expression, F, Field, QuerySet
from django.utils import timezone


@dataclass(frozen=True)
class Marker:
    """Where a slot's value goes in a compiled statement's parameters."""

    name: str
    field: Field[Any, Any] | None = None  # None: a list of ids


class Slot(Expression):
    """A value named `name`, of the type of `output_field`, bound when the statement runs."""

    def __init__(self, name: str, output_field: Field[Any, Any]) -> None:
        super().__init__(output_field=output_field)
        self.name = name

    def __repr__(self) -> str:
        return f"Slot({self.name!r})"

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return "%s", [Marker(self.name, self.output_field)]


class InIds(Expression):
    """A condition: `field` (a field or annotation name) is one of the ids bound to `name`."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, field: str | Any, name: str) -> None:
        super().__init__()
        self.lhs = F(field) if isinstance(field, str) else field
        self.name = name

    def __repr__(self) -> str:
        return f"InIds({self.lhs!r}, {self.name!r})"

    def get_source_expressions(self) -> list[Any]:
        return [self.lhs]

    def set_source_expressions(self, exprs: Any) -> None:
        (self.lhs,) = exprs

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        sql, params = compiler.compile(self.lhs)
        # `sql` is the compiled column; the ids go as a parameter.
        return f"{sql} IN (SELECT value FROM json_each(%s))", [*params, Marker(self.name)]  # noqa: S608

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        sql, params = compiler.compile(self.lhs)
        return f"{sql} = ANY(%s::bigint[])", [*params, Marker(self.name)]


def bind(params: Sequence[Any], values: Mapping[str, Any], connection: Any) -> list[Any]:
    """The parameters of a compiled statement with each slot's value put in. A slot with no
    value is a programming error (KeyError), never a silent NULL."""
    bound = []
    for param in params:
        if not isinstance(param, Marker):
            bound.append(param)
        elif param.field is None:
            ids = [int(pk) for pk in values[param.name]]
            bound.append(ids if connection.vendor == "postgresql" else json.dumps(ids))
        else:
            bound.append(param.field.get_db_prep_value(values[param.name], connection))
    return bound


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: list[Any]
    names: list[str]
    converters: list[tuple[int, tuple[list[Callable[..., Any]], Any]]]


class KeptValues:
    """A `.values()` queryset whose only varying values are slots, compiled once per process
    (for each database and time zone: a date taken from a timestamp names the zone in the SQL)
    and run with its slots bound. `rows(values)` answers what iterating the queryset would:
    one dict per row, the model fields' conversions from the database applied."""

    def __init__(self, build: Callable[[], QuerySet[Any]]) -> None:
        self._build = build
        self._kept: dict[tuple[str, str, str], _Compiled] = {}

    def _compiled(self, using: str) -> _Compiled:
        connection = connections[using]
        key = (using, connection.vendor, timezone.get_current_timezone_name())
        kept = self._kept.get(key)
        if kept is None:
            query = self._build().query
            compiler = query.get_compiler(using=using)
            sql, params = compiler.as_sql()
            fields = [column[0] for column in compiler.select[0 : compiler.col_count]]
            kept = self._kept[key] = _Compiled(
                sql=sql,
                params=list(params),
                # As Django's ValuesIterable names a row's values.
                names=(
                    list(query.selected)
                    if query.selected
                    else [*query.extra_select, *query.values_select, *query.annotation_select]
                ),
                converters=list(compiler.get_converters(fields).items()),
            )
        return kept

    def rows(
        self, values: Mapping[str, Any], using: str = DEFAULT_DB_ALIAS
    ) -> list[dict[str, Any]]:
        connection = connections[using]
        kept = self._compiled(using)
        params = bind(kept.params, values, connection)
        try:
            rows = _fetch(connection, kept.sql, params)
        except DatabaseError as exc:
            # A column it reads changed type since this connection prepared it (a migration
            # run from elsewhere): PostgreSQL refuses the prepared statement from then on. The
            # connection goes, its prepared statements with it, and the next one prepares anew.
            if not _stale_plan(exc) or connection.in_atomic_block:
                raise
            connection.close()
            rows = _fetch(connection, kept.sql, params)
        if connection.vendor == "postgresql" and connection.queries_logged:
            # Django logs what psycopg sent: `$1` placeholders, and no text at all once the
            # statement is prepared. Logged with its values instead, like any other statement.
            compose = connection.ops.compose_sql  # type: ignore[attr-defined]
            connection.queries_log[-1]["sql"] = compose(kept.sql, params)
        if kept.converters:
            rows = [list(row) for row in rows]
            for row in rows:
                for position, (functions, expression) in kept.converters:
                    for convert in functions:
                        row[position] = convert(row[position], expression, connection)
        return [dict(zip(kept.names, row, strict=True)) for row in rows]


def _stale_plan(exc: DatabaseError) -> bool:
    """PostgreSQL's "cached plan must not change result type" (feature_not_supported)."""
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == "0A000" and "cached plan" in str(cause)


def _fetch(connection: Any, sql: str, params: list[Any]) -> list[Any]:
    with _cursor(connection) as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _cursor(connection: Any) -> Any:
    """Django's cursor (its query log and execute wrappers included); on PostgreSQL over a
    psycopg cursor that binds on the server, so that psycopg may prepare the statement."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor
    from psycopg.types.datetime import TimestamptzLoader

    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw: Any = ServerBindingCursor(connection.connection)  # type: ignore[call-arg]
        if _session_zone_is_djangos(connection):
            raw.adapters.register_loader("timestamptz", TimestamptzLoader)
        return connection._prepare_cursor(raw)


def _session_zone_is_djangos(connection: Any) -> bool:
    """Whether psycopg's own timestamp loader reads what Django's would on this connection.

    Django reads every `timestamptz` with a loader of its own, written in Python, that parses
    the value in the session's time zone and then labels it with the connection's zone; psycopg
    ships the same parsing compiled (psycopg[binary]), giving the value in the session's zone.
    A page of the project list reads about 200 timestamps, and Django's loader was a tenth of
    its Python time. The two give the same moment when the session's zone is the connection's,
    which Django sets when it connects; a cursor here uses psycopg's loader only then."""
    session = connection.connection.pgconn.parameter_status(b"TimeZone")
    return session is not None and session.decode() == connection.timezone_name
