"""Small template helpers shared by every page: rule advice for flags, links to a flag's
subject, money, sort links and query strings that keep the current filters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.http import QueryDict
from django.urls import NoReverseMatch, reverse

register = template.Library()

# Where each flag subject type lives in the browser app.
_SUBJECT_URLS = {
    "goal": "goals:detail",
    "business_strategy": "strategies:business_detail",
    "crm_strategy": "strategies:crm_detail",
    "project": "projects:detail",
    "feature": "projects:feature_detail",
}


def _rule(code: str) -> Any:
    # The rule registry belongs to the engine; read lazily so templates never import it early.
    try:
        from alignment.rules import rule_for
    except ImportError:
        return None
    try:
        return rule_for(code)
    except (KeyError, LookupError):
        return None


@register.filter
def rule_advice(code: str) -> str:
    """What to do about a flag of this rule, from the rule catalogue (unformatted: a flag's own
    message is this advice with the rule's threshold filled in)."""
    rule = _rule(code)
    return getattr(rule, "advice", "") if rule is not None else ""


@register.filter
def rule_why(code: str) -> str:
    """Why the rule matters, from the rule catalogue."""
    rule = _rule(code)
    return getattr(rule, "why", "") if rule is not None else ""


@register.filter
def rule_title(code: str) -> str:
    rule = _rule(code)
    return getattr(rule, "title", "") or code if rule is not None else code


@register.filter
def flag_subject_url(flag: Any) -> str:
    """The page of the flag's subject, or "" for subjects without one (managers, departments)."""
    name = _SUBJECT_URLS.get(flag.subject_type)
    if name is None:
        return ""
    try:
        return reverse(name, args=[flag.subject_id])
    except NoReverseMatch:
        return ""


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
    """1234567.5 → "1,234,568" (whole units; budgets are planning figures)."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(value)
    except (ArithmeticError, ValueError, TypeError):
        return str(value)
    return f"{amount:,.0f}"


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
    """A column header that sorts by `field`, toggling direction, and says how it is sorted."""
    current = context.get("sort", "")
    ascending = current == field
    descending = current == f"-{field}"
    target = f"-{field}" if ascending else field
    return {
        "label": label,
        "href": query_with(context, sort=target, page=None),
        "state": "ascending" if ascending else "descending" if descending else "none",
    }
