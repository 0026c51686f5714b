"""People pickers: who may be picked for a person field, found by name instead of listed whole.

A form or filter field that names a person (a project's manager, a goal's owner, the
"manager" filter) declares a `People` set — the same people its service accepts. The page
renders a text input, not a `<select>` of every user: the browser asks `/people/` for up to
PICKER_LIMIT matches as the person types (static/js/picker.js fills the input's suggestions),
and without JavaScript the input still takes a username (or a full name, or the "Name
(username)" the suggestions show); `resolve` turns what was typed into one user or a clear
error. The API's filters take the same values, and a user id as before.

Each set registers under a key (`projects.manager`) the endpoint is asked with; every set is
defined in a module of a form or filter that a page uses, so it is registered once the URLs are
loaded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Concat

from .roles import Role

PICKER_LIMIT = 20
# The largest id a database column holds: a longer number is not an id (and would overflow).
_MAX_ID = 2**63 - 1
# "Jane Smith (jsmith)": how suggestions and the current value are shown; the username counts.
_LABELLED = re.compile(r".*\(\s*([\w.@+-]+)\s*\)")


@dataclass(frozen=True)
class People:
    """The people a person field accepts: `queryset()` (called per use, never at import), and
    `who` — how an error names them ("project managers")."""

    key: str
    queryset: Callable[[], QuerySet[Any]]
    who: str


_REGISTRY: dict[str, People] = {}


def people(key: str, queryset: Callable[[], QuerySet[Any]], *, who: str) -> People:
    """Define (and register for the picker endpoint) the people a person field accepts."""
    found = People(key, queryset, who)
    _REGISTRY[key] = found
    return found


def registered(key: str) -> People | None:
    return _REGISTRY.get(key)


def people_with_roles(*roles: Role) -> QuerySet[Any]:
    """Active users holding any of `roles` (any role when none is named; superusers always),
    by name: the rule `core.services.require_people_roles` checks on save."""
    users = get_user_model().objects.filter(is_active=True)
    names = [role.value for role in (roles or tuple(Role))]
    ids = users.filter(Q(is_superuser=True) | Q(groups__name__in=names)).values("pk")
    return users.filter(pk__in=ids).order_by("first_name", "last_name", "username")


def holding(*roles: Role) -> People:
    """The active people holding any of `roles` (any role when none is named), superusers
    included: the rule `core.services.require_people_roles` applies on save."""
    names = sorted(role.value for role in roles)
    key = "roles:" + ("+".join(names) or "any")
    if roles:
        labels = [f"{str(role.label).lower()}s" for role in roles]
        who = " and ".join(labels)
    else:
        who = "people with a role"
    return people(key, lambda: people_with_roles(*roles), who=who)


def label(user: Any) -> str:
    """How a person is shown in a picker: "Jane Smith (jsmith)", or the username alone."""
    name = user.get_full_name()
    return f"{name} ({user.get_username()})" if name else user.get_username()


def search(found: People, text: str, limit: int = PICKER_LIMIT) -> list[Any]:
    """Up to `limit` people of the set whose username or name contains every word typed."""
    users = found.queryset()
    for word in text.split()[:5]:
        named = Q(first_name__icontains=word) | Q(last_name__icontains=word)
        users = users.filter(Q(username__icontains=word) | named)
    return list(users.order_by("first_name", "last_name", "username")[:limit])


def resolve(found: People, value: Any, *, also: Any = None) -> Any:
    """The one user of the set (or the user whose id is `also`: the person the object already
    names) that `value` means: a username, "Name (username)", a full name, or an id. Raises a
    ValidationError saying what to type instead when none or several match; None when blank."""
    if value is None or isinstance(value, get_user_model()):
        return value
    text = str(value).strip()
    if not text:
        return None
    labelled = _LABELLED.fullmatch(text)
    if labelled:
        text = labelled.group(1)
    as_id = int(text) if text.isdigit() and len(text) < 20 and int(text) <= _MAX_ID else None
    users = found.queryset()
    if also is not None:
        users = users.model.objects.filter(Q(pk__in=users.values("pk")) | Q(pk=also))
    match = Q(username__iexact=text) | Q(full_name__iexact=text)
    if as_id is not None:
        match |= Q(pk=as_id)
    candidates = list(
        users.annotate(full_name=Concat("first_name", Value(" "), "last_name"))
        .filter(match)
        .order_by("username")[:10]
    )
    exact = [u for u in candidates if u.get_username() == text]
    by_id = [u for u in candidates if u.pk == as_id]
    if exact and by_id and exact[0] != by_id[0]:
        raise ValidationError(
            f"“{text}” is the username of one person and the id of another: type "
            f"“{label(exact[0])}” or “{label(by_id[0])}”.",
            code="ambiguous",
        )
    for tier in (
        exact,
        by_id,
        [u for u in candidates if u.get_username().lower() == text.lower()],
        [u for u in candidates if u.full_name.lower() == text.lower()],
    ):
        if len(tier) == 1:
            return tier[0]
        if len(tier) > 1:
            names = ", ".join(u.get_username() for u in tier[:5])
            raise ValidationError(
                f"{len(tier)} people match “{text}” ({names}): type the username of the "
                "one you mean.",
                code="ambiguous",
            )
    if get_user_model().objects.filter(username__iexact=text).exists():
        raise ValidationError(
            f"{text} cannot be chosen here: only {found.who} can.", code="not_allowed"
        )
    raise ValidationError(
        f"No one called “{text}” can be chosen here ({found.who}): type a username, or pick "
        "from the suggestions.",
        code="unknown",
    )
