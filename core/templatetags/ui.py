"""Small template helpers shared by every page: money (with its currency), units, sort links
and query strings that keep the current filters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.http import QueryDict

from core.money import currency as money_currency
from core.money import format_money

register = template.Library()


@register.filter
def with_unit(value: Any, unit: str) -> str:
    """12.50 and "partners" → "12.5 partners"; "%" and other symbols attach without a space."""
    if value is None or value == "":
        return "—"
    try:
        number = f"{Decimal(value).normalize():f}"
    except (ArithmeticError, ValueError, TypeError):
        number = str(value)
    if not unit:
        return number
    return f"{number}{unit}" if len(unit) <= 1 and not unit.isalpha() else f"{number} {unit}"


@register.filter
def startswith(value: Any, prefix: str) -> bool:
    return str(value).startswith(prefix)


@register.filter
def money(value: Any) -> str:
    """1234567.5 → "EUR 1,234,567.50": every amount with the currency, to the cent (so shares
    shown side by side add up to the total shown); "—" when there is none."""
    if value is None or value == "":
        return "—"
    try:
        return format_money(value)
    except (ArithmeticError, ValueError, TypeError):
        return str(value)


@register.simple_tag
def currency() -> str:
    """The currency code every amount is in, for labels such as "Budget (EUR)"."""
    return money_currency()


@register.filter
def percent_of(part: Any, whole: Any) -> int:
    try:
        part, whole = Decimal(part or 0), Decimal(whole or 0)
    except (ArithmeticError, ValueError, TypeError):
        return 0
    return round(part / whole * 100) if whole else 0


@register.simple_tag(takes_context=True)
def query_with(context: template.Context, **changes: Any) -> str:
    """The current query string with some parameters changed (None/"" removes them)."""
    request = context.get("request")
    query: QueryDict = request.GET.copy() if request is not None else QueryDict(mutable=True)
    for key, value in changes.items():
        if value is None or value == "":
            query.pop(key, None)
        else:
            query[key] = str(value)
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.inclusion_tag("components/sort_link.html", takes_context=True)
def sort_link(context: template.Context, field: str, label: str) -> dict[str, Any]:
    """A column header that sorts by `field` (a name of the resource's `?ordering=`, as on its
    API), toggling direction, and says how it is sorted."""
    current = context.get("ordering", "")
    ascending = current == field
    descending = current == f"-{field}"
    target = f"-{field}" if ascending else field
    return {
        "label": label,
        "href": query_with(context, ordering=target, page=None),
        "state": "ascending" if ascending else "descending" if descending else "none",
    }
