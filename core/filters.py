"""Building blocks for the one FilterSet each listed resource has (in its app's `filters.py`).

The same class is the API viewset's `filterset_class` and drives the resource's list page (its
filter bar is the filterset's form), so both take the same parameter names, the same defaults
and the same orderings, and refuse the same values: the API answers 400 naming the parameter,
a page shows the error next to the field and lists as if the parameter were absent."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.text import capfirst
from drf_spectacular.utils import extend_schema_field

from .forms import PersonField
from .people import People, people

ORDERING_PARAM = "ordering"


class StrictBooleanField(forms.Field):
    """true/false (or 1/0) for a boolean filter; anything else is an error, not "no filter".

    Django's NullBooleanField reads `?is_traceable=maybe` (and even `=1`) as "unknown", so the
    filter would be dropped silently and the client would get the whole list."""

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        spelled = str(value).strip().lower()
        if spelled in ("true", "1"):
            return True
        if spelled in ("false", "0"):
            return False
        raise ValidationError("Must be true or false.", code="invalid")

    def prepare_value(self, value: Any) -> Any:
        # A page shows `?is_traceable=1` as the "true" option it means.
        spelled = str(value).strip().lower() if value is not None else ""
        if value is True or spelled in ("true", "1"):
            return "true"
        if value is False or spelled in ("false", "0"):
            return "false"
        return value


class CheckboxInput(forms.CheckboxInput):
    """A checkbox for a strict boolean filter: ticked it sends `true` (the API's spelling), and
    it hands the field the raw value, so `?mine=maybe` is an error rather than "ticked"."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, check_test=lambda value: value == "true")

    def format_value(self, value: Any) -> str:
        return "true"

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        return data.get(name)


class BooleanFilter(django_filters.BooleanFilter):
    """A yes/no filter: `true`/`false` (or `1`/`0`) on the API, a select on the page."""

    field_class = StrictBooleanField

    def __init__(
        self,
        *args: Any,
        either: str = "Either",
        yes: str = "Yes",
        no: str = "No",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "widget", forms.Select(choices=[("", either), ("true", yes), ("false", no)])
        )
        super().__init__(*args, **kwargs)


# Anyone who has an account: the people filters look for unless they say otherwise.
ANYONE = people(
    "people.anyone", lambda: get_user_model().objects.all(), who="people with an account"
)


@extend_schema_field(
    {
        "type": "string",
        "description": "A person: their id, username, full name or “Name (username)”. The "
        "page's suggestions come from /people/.",
    }
)
class PersonFilter(django_filters.Filter):
    """A person (core.forms.PersonField: an id, a username or a name), of `people` — anyone
    with an account unless narrower. The page shows a text input with suggestions, not a
    `<select>` of every user."""

    field_class = PersonField

    def __init__(self, *args: Any, people: People = ANYONE, **kwargs: Any) -> None:
        kwargs["found"] = people
        super().__init__(*args, **kwargs)


def _reverse(fields: Sequence[str]) -> tuple[str, ...]:
    return tuple(field[1:] if field.startswith("-") else f"-{field}" for field in fields)


class OrderingFilter(django_filters.OrderingFilter):
    """`?ordering=name` (or `-name`, or several: `status,-title`) from one declared mapping of
    names to ORDER BY fields: the page's column headers and the API's `ordering` use it.

    "-name" reverses every field of "name" unless the mapping spells it out. Rows always end
    with a tie-breaker on id, so pages never repeat or skip a row. No value, or on a page an
    invalid one, means the default."""

    def __init__(
        self,
        *,
        orderings: Mapping[str, Sequence[str]],
        default: str,
        labels: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        expanded: dict[str, tuple[str, ...]] = {}
        for key, fields in orderings.items():
            expanded[key] = tuple(fields)
            if not key.startswith("-"):
                expanded.setdefault(f"-{key}", _reverse(fields))
        if default not in expanded:
            raise ValueError(f"The default ordering {default!r} is not one of the orderings.")
        self.orderings = expanded
        self.default = default
        labels = labels or {}
        choices = [
            (
                key,
                labels.get(key)
                or (
                    f"{capfirst(key[1:].replace('_', ' '))}, descending"
                    if key.startswith("-")
                    else capfirst(key.replace("_", " "))
                ),
            )
            for key in expanded
        ]
        kwargs.setdefault("label", "Sort by")
        super().__init__(choices=choices, empty_label=None, **kwargs)

    def order_fields(self, keys: Sequence[str]) -> list[str]:
        """The ORDER BY fields for these ordering names (the default when there are none)."""
        keys = [key for key in keys if key] or [self.default]
        fields = [field for key in keys for field in self.orderings[key]]
        if not {field.lstrip("-") for field in fields} & {"pk", "id"}:
            fields.append("-pk" if keys[-1].startswith("-") else "pk")
        return fields

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        return qs.order_by(*self.order_fields(value or []))


class _DeclaredFilters(dict[str, Any]):
    """A FilterSet class's filters. django-filter deep-copies them for each FilterSet (each
    request), so that what a filter is given per instance (`parent`, `model`, its form field,
    and the queryset `extra` holds for it) stays that instance's; the deep copy also copied
    every queryset, choice list and ordering map the filters hold, which nothing changes, and
    cost a list request more than its filtering. A copy of each filter with a copy of its
    `extra` (and of the FilterMethod of a filter with `method=`) keeps the per-instance state
    apart at a fraction of that."""

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        copies = {}
        for name, filter_ in self.items():
            copied = copies[name] = copy.copy(filter_)
            copied.extra = dict(filter_.extra)
            if filter_.method is not None:
                # The FilterMethod that runs `method=` names its filter: the copy gets its own.
                copied.method = filter_.method
        return copies


class FilterSet(django_filters.FilterSet):
    """Base of every resource's FilterSet: always bound (no query string still applies the
    defaults), and each filter runs even when its value was refused or absent, so a default
    such as the flags' "unresolved" or the ordering still holds on a page with an error."""

    @classmethod
    def get_filters(cls) -> dict[str, Any]:
        return _DeclaredFilters(super().get_filters())

    def __init__(
        self, data: Any = None, queryset: Any = None, *, request: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(QueryDict() if data is None else data, queryset, request=request, **kwargs)

    def get_form_class(self) -> type[forms.Form]:
        # django-filter builds the form class, and every filter's form field, for each request;
        # they depend only on the declared filters, so each FilterSet class builds it once.
        # (Each form still gets its own copies of the fields, as any Django form does.)
        cls = type(self)
        form_class = cls.__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            cls._form_class = form_class
        return form_class

    def cleaned(self) -> dict[str, Any]:
        """The valid values (refused ones are left out), validating the form if need be."""
        self.form.errors  # noqa: B018 - validates the form on first use
        return self.form.cleaned_data

    # Per-row figures (name → a function making its expression) that filters and orderings may
    # name but the queryset does not carry: each is aliased only when a filter with a value, or
    # the ordering, names it. Resolving a figure's subqueries costs Django time on every request
    # even when the SQL leaves it out.
    figures: Mapping[str, Callable[[], Any]] = {}

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        cleaned = self.cleaned()
        # A queryset that annotates a figure itself keeps it (re-aliasing would drop it).
        needed = [
            name for name in self._figures_named(cleaned) if name not in queryset.query.annotations
        ]
        if needed:
            queryset = queryset.alias(**{name: self.figures[name]() for name in needed})
        for name, filter_ in self.filters.items():
            queryset = filter_.filter(queryset, cleaned.get(name))
        return queryset

    def _figures_named(self, cleaned: Mapping[str, Any]) -> list[str]:
        if not self.figures:
            return []
        named = []
        for name, filter_ in self.filters.items():
            value = cleaned.get(name)
            if isinstance(filter_, OrderingFilter):
                named += [field.lstrip("-") for field in filter_.order_fields(value or [])]
            elif value not in (None, "", [], ()):
                named.append(filter_.field_name)
        roots = dict.fromkeys(field.split("__")[0] for field in named)
        return [root for root in roots if root in self.figures]

    def ordering_key(self) -> str:
        """The ordering the rows are in, as `?ordering=` spells it (for the column headers)."""
        filter_ = self.filters.get(ORDERING_PARAM)
        if not isinstance(filter_, OrderingFilter):
            return ""
        keys = [key for key in (self.cleaned().get(ORDERING_PARAM) or []) if key]
        return ",".join(keys) or filter_.default

    def is_filtered(self) -> bool:
        """Whether a valid filter (not the ordering) narrows the list."""
        cleaned = self.cleaned()
        return any(
            cleaned.get(name) not in (None, "", [])
            for name in self.filters
            if name != ORDERING_PARAM
        )
