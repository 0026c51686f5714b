"""Lists that cost the page, not the portfolio.

A list's per-row figures (traceability, counts, nested parts) are computed only for the rows on
the page: the list is filtered, ordered and paginated on a plain queryset whose figures are
aliases (so SQL computes one only when a filter or an ordering names it), and the page's ids are
then read through the selector that computes every figure, for those ids alone. Otherwise
PostgreSQL evaluates an `Exists` over links for the whole table (as one hashed subplan) to fill
a page of 25 rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet


def rows_in_order(rows: QuerySet[Any], ids: Sequence[Any]) -> list[Any]:
    """The objects with these ids from `rows`, in the order of `ids` (one query, plus the
    queryset's prefetches)."""
    found = rows.in_bulk(list(ids))
    return [found[pk] for pk in ids if pk in found]
