"""Values a statement takes when it runs rather than when it is built: the slots of the
re-check's statements, which the engine compiles once and runs many times.

Django's compiler is most of a re-check's cost: about two thirds of it went into turning the
same querysets into the same SQL for every edit, with only the project's id, its groups' ids
and the scan's time differing. A statement built with slots instead of those values compiles
to SQL whose parameters hold a `Marker` where each value goes; `bind` puts the values in.

- `Slot(name, field)`: one value (the scan's time, the operation it runs for).
- `InIds(field, name)`: `field` is one of a list of ids. On PostgreSQL `= ANY(array)`: the
  array is sent inline (client-side binding), so the planner sees how many ids there are and
  keeps its index scans; elsewhere `IN` the members of a JSON array (SQLite's json_each).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import BooleanField, Expression, F, Field


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


def group_slot(subject_type: str) -> str:
    """The slot of a re-check's groups of one subject type (CRM strategies, managers, …)."""
    return f"groups:{subject_type}"
