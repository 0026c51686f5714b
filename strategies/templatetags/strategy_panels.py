"""Strategy panels for the goal pages.

A goal's page lists the business strategies under it, but `goals` never imports `strategies`
(dependencies point one way); its template asks through this tag.
"""

from __future__ import annotations

from typing import Any

from django import template

from strategies.selectors import business_strategies_with_counts

register = template.Library()


@register.simple_tag
def business_strategies_under(goal: Any) -> list[Any]:
    """The goal's business strategies with the CRM strategies serving each, by title."""
    return list(
        business_strategies_with_counts()
        .filter(goal=goal)
        .prefetch_related("crm_strategies")
        .order_by("title")
    )
