"""Making titles unique ignoring case in existing data, for the migrations that add the
unique indexes on Lower(title): a row whose title equals an older row's in all but case (in
the same scope, e.g. one goal's business strategies) is renamed "<title> (2)", "(3)", … —
the oldest keeps its title, nothing is deleted, and each renamed row's version moves on so an
edit opened before the rename is refused rather than silently undoing it."""

from collections.abc import Sequence
from typing import Any

from django.db.models import F


def _numbered(title: str, number: int, max_length: int) -> str:
    suffix = f" ({number})"
    return title[: max_length - len(suffix)].rstrip() + suffix


def rename_titles_equal_ignoring_case(model: Any, scope: Sequence[str] = ()) -> int:
    """Rename the younger of the rows whose titles differ only in case; how many were renamed.
    One read of (id, scope, title), then one update per renamed row (there are
    none in data that was entered through the services, which compared titles exactly)."""
    max_length = model._meta.get_field("title").max_length
    columns = [f"{name}_id" for name in scope]
    rows = list(model._base_manager.order_by("pk").values_list("pk", *columns, "title"))
    # Every title as stored is taken, so a new number never lands on an existing title.
    owner: dict[tuple[Any, ...], int] = {}
    for pk, *where, title in rows:
        owner.setdefault((*where, title.lower()), pk)
    taken = set(owner)
    renames: list[tuple[int, str]] = []
    for pk, *where, title in rows:
        if owner[(*where, title.lower())] == pk:
            continue
        number = 2
        while (*where, _numbered(title, number, max_length).lower()) in taken:
            number += 1
        new_title = _numbered(title, number, max_length)
        taken.add((*where, new_title.lower()))
        renames.append((pk, new_title))
    for pk, new_title in renames:
        model._base_manager.filter(pk=pk).update(title=new_title, version=F("version") + 1)
    return len(renames)
