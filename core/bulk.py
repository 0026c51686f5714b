"""Large fan-outs written as plain rows: no model instances, no per-value preparation in
Python, one statement on PostgreSQL (`UNNEST` of one array per column). For rows the caller
builds by the thousand (a scan's notifications), where `bulk_create` spent most of its time
building and preparing instances. No signals are sent, as with `bulk_create`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection, models


def insert_ignoring_conflicts(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    constants: Mapping[str, Any] | None = None,
) -> None:
    """Insert `rows` (one value per name of `columns`, field names) into `model`'s table, each
    with the same `constants` (field name → value), skipping a row that would break a unique
    constraint (ON CONFLICT DO NOTHING, as bulk_create's ignore_conflicts). The values are
    those the fields store: ids, strings, numbers, aware datetimes."""
    if not rows:
        return
    constants = dict(constants or {})
    meta = model._meta
    # Concrete fields only (a reverse relation has no column): the names are the caller's code,
    # never input, so the statement is built from identifiers Django quotes.
    fields: list[Any] = [meta.get_field(name) for name in columns]
    fixed: list[Any] = [meta.get_field(name) for name in constants]
    quote = connection.ops.quote_name
    names = ", ".join(quote(str(f.column)) for f in (*fields, *fixed))
    table = quote(meta.db_table)
    fixed_values = [f.get_db_prep_save(constants[f.name], connection) for f in fixed]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
            fixed_marks = "".join(f", %s::{f.db_type(connection)}" for f in fixed)
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT u.*{fixed_marks} "  # noqa: S608
                f"FROM UNNEST({arrays}) AS u ON CONFLICT DO NOTHING",
                [*fixed_values, *([row[i] for row in rows] for i in range(len(fields)))],
            )
            return
        marks = ", ".join(["%s"] * (len(fields) + len(fixed)))
        cursor.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING",  # noqa: S608
            [
                [
                    f.get_db_prep_save(value, connection)
                    for f, value in zip(fields, row, strict=True)
                ]
                + fixed_values
                for row in rows
            ],
        )
