"""Lists that cost the page, not the portfolio.

A list's per-row figures (traceability, counts, nested parts) are computed only for the rows on
the page: the list is filtered, ordered and paginated on a plain queryset whose figures are
aliases (so SQL computes one only when a filter or an ordering names it), and the page's ids are
then read through the selector that computes every figure, for those ids alone. Otherwise
PostgreSQL evaluates an `Exists` over links for the whole table (as one hashed subplan) to fill
a page of 25 rows.

A list that must also be cheap per row (the API's project list, requested far more often than
any page) reads its page as plain rows and renders them with its serializer's own fields
(`RowRenderer`), rather than building model instances and running DRF per field."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, QuerySet
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.relations import ManyRelatedField, RelatedField
from rest_framework.settings import api_settings


def rows_in_order(rows: QuerySet[Any], ids: Sequence[Any]) -> list[Any]:
    """The objects with these ids from `rows`, in the order of `ids` (one query, plus the
    queryset's prefetches)."""
    found = rows.in_bulk(list(ids))
    return [found[pk] for pk in ids if pk in found]


# --- Rendering a page of rows as its serializer would


# How a field's value becomes what the serializer shows: None (as it is), a function of the
# value, or (for datetimes) a function of the value and the current time zone.
Convert = Callable[..., Any] | None


def _conversion(field: serializers.Field, model: type[Model]) -> tuple[str, Convert, bool]:
    """The row key a field reads, how its value is converted, and whether the conversion also
    takes the current time zone."""
    if isinstance(field, (serializers.BaseSerializer, ManyRelatedField)):
        raise ImproperlyConfigured(
            f"{field.field_name}: a nested or many-valued field is rendered by the caller "
            "(name it in `given`)."
        )
    source = field.source
    assert source is not None  # set when the serializer binds its fields
    if "." in source or source == "*":
        raise ImproperlyConfigured(
            f"{field.field_name}: a field whose source is {source!r} is rendered by the "
            "caller (name it in `given`)."
        )
    if isinstance(field, RelatedField):
        # A related field that shows the related object's id: the row's foreign-key column.
        attname = getattr(model._meta.get_field(source), "attname", None)
        pk_only = isinstance(field, serializers.PrimaryKeyRelatedField) and field.pk_field is None
        if not pk_only or attname is None:
            raise ImproperlyConfigured(f"{field.field_name}: only ids of related objects.")
        return attname, None, False
    to_representation = type(field).to_representation
    if to_representation in _AS_STORED:
        return source, None, False
    kept = _kept_as_read(field, to_representation)
    if kept is not None:
        return source, kept, False
    if (
        isinstance(field, serializers.DecimalField)
        and to_representation is serializers.DecimalField.to_representation
    ):
        return source, _decimal_conversion(field), False
    if (
        isinstance(field, serializers.DateField)
        and to_representation is serializers.DateField.to_representation
    ):
        return source, _date_conversion(field), False
    if (
        isinstance(field, serializers.DateTimeField)
        and to_representation is serializers.DateTimeField.to_representation
    ):
        zoned = _datetime_conversion(field)
        if zoned is not None:
            return source, zoned, True
    return source, field.to_representation, False


# Fields whose representation of a value read from the database is that value: int(), str().
_AS_STORED = {serializers.IntegerField.to_representation, serializers.CharField.to_representation}


def _kept_as_read(field: serializers.Field, to_representation: Any) -> Convert:
    """For a big integer (not shown as a string), a boolean or a choice whose keys are the
    strings stored: the value itself where it is of the type read from such a column, which
    is what the field shows for it, and the field's own conversion for anything else. None
    for any other field."""
    slow = field.to_representation
    kind: type | None = None
    if to_representation is serializers.BigIntegerField.to_representation:
        if not getattr(field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING):
            kind = int
    elif to_representation is serializers.BooleanField.to_representation:
        kind = bool
    elif to_representation is serializers.ChoiceField.to_representation:
        choices = field.choice_strings_to_values  # type: ignore[attr-defined]
        if all(type(key) is str and shown == key for key, shown in choices.items()):
            kind = str
    if kind is None:
        return None
    expected = kind

    def convert(value: Any) -> Any:
        return value if type(value) is expected else slow(value)

    return convert


def _decimal_conversion(field: serializers.DecimalField) -> Convert:
    """DecimalField's string, without its quantizing where the stored value already has the
    field's decimal places (a money column read back): '{:f}' of the value itself."""
    slow = field.to_representation
    coerce = getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
    if not coerce or field.localize or field.decimal_places is None:
        return slow
    exponent, max_digits = -field.decimal_places, field.max_digits

    def convert(value: Any) -> Any:
        if type(value) is Decimal:
            _, digits, value_exponent = value.as_tuple()
            if value_exponent == exponent and (max_digits is None or len(digits) <= max_digits):
                return f"{value:f}"
        return slow(value)

    return convert


def _date_conversion(field: serializers.DateField) -> Convert:
    """DateField's ISO 8601 text of a date, its format looked up once rather than per value;
    anything else (another format, a value that is not a date) goes to the field itself."""
    slow = field.to_representation
    output_format = getattr(field, "format", api_settings.DATE_FORMAT)
    if not isinstance(output_format, str) or output_format.lower() != ISO_8601:
        return slow

    def convert(value: Any) -> Any:
        return value.isoformat() if type(value) is date else slow(value)

    return convert


def _datetime_conversion(field: serializers.DateTimeField) -> Convert:
    """DateTimeField's ISO 8601 text of an aware datetime in the current time zone ('Z' for
    UTC), given that zone once per page rather than looked up per value; anything else goes to
    the field itself. None where the field is configured otherwise (a format, a zone)."""
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    if not isinstance(output_format, str) or output_format.lower() != ISO_8601:
        return None
    if hasattr(field, "timezone"):  # a field with a time zone of its own
        return None
    slow = field.to_representation

    def convert(value: Any, zone: Any) -> Any:
        if zone is not None and type(value) is datetime and value.utcoffset() is not None:
            shown = value.astimezone(zone).isoformat()
            return shown[:-6] + "Z" if shown.endswith("+00:00") else shown
        return slow(value)

    return convert


class RowRenderer:
    """What a ModelSerializer shows for rows read with `.values(*renderer.columns)`, without
    DRF's per-row, per-field machinery (attribute lookup by `source`, `SkipField`, related
    objects, settings looked up per value), which dominates the time of a long list read as
    model instances.

    The serializer stays the one definition of the fields, their order and their formats: each
    readable field is read from the row under its source (a related object's id under its
    column, `manager_id`) and converted by the field's own `to_representation` — directly where
    that is the stored value itself (integers, strings, ids), a money value already to the
    cent, or an aware datetime shown in ISO 8601; None stays None, as in DRF. The fields named
    in `given` the caller puts into each row already rendered (nested lists, values computed in
    Python). A field it cannot render from a row fails when the renderer is built, not in a
    response. `tests/api/test_project_list_rendering.py` holds the output equal to the
    serializer's."""

    def __init__(
        self, serializer_class: type[serializers.ModelSerializer], *, given: Sequence[str] = ()
    ) -> None:
        fields = serializer_class().fields
        unknown = set(given) - set(fields)
        if unknown:
            raise ImproperlyConfigured(f"{serializer_class.__name__} has no field {unknown}.")
        model = serializer_class.Meta.model
        self.plan: list[tuple[str, str, Convert, bool]] = []
        self.columns: list[str] = []
        for name, field in fields.items():
            if field.write_only:
                continue
            if name in given:
                self.plan.append((name, name, None, False))
                continue
            key, convert, zoned = _conversion(field, model)
            self.plan.append((name, key, convert, zoned))
            self.columns.append(key)

    def render(self, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The serializer's representation of each row."""
        zone = timezone.get_current_timezone() if settings.USE_TZ else None
        plan = self.plan
        shown_rows = []
        for row in rows:
            shown = {}
            for name, key, convert, zoned in plan:
                value = row[key]
                if value is None or convert is None:
                    shown[name] = value
                elif zoned:
                    shown[name] = convert(value, zone)
                else:
                    shown[name] = convert(value)
            shown_rows.append(shown)
        return shown_rows
