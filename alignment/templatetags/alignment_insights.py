"""Goal health and link suggestions on pages of the layers below alignment (goals, strategies,
projects), which cannot import the engine: their templates load these tags.

    {% health_verdicts page_obj "goal" as verdicts %}      one computation for the page
    {% health_badge verdicts|verdict_of:goal.pk "goal-health" goal.pk %}   the badge
    {% project_suggestions project as suggestions %}
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from goals.health import Verdict, verdicts

from ..goal_health import kpi_due_soon_days, kpi_halfway_pct

register = template.Library()


@register.simple_tag
def health_verdicts(objects: Any, kind: str) -> dict[int, Verdict]:
    """The verdicts of every object in `objects` (a page), in one go."""
    return verdicts(kind, (obj.pk for obj in objects))


@register.filter
def as_list(obj: Any) -> list[Any]:
    return [obj]


@register.filter
def verdict_of(found: dict[int, Verdict] | None, pk: int) -> Verdict | None:
    return (found or {}).get(pk)


@register.inclusion_tag("alignment/partials/health_badge.html")
def health_badge(
    verdict: Verdict | None, prefix: str, pk: Any, full: bool = False
) -> dict[str, Any]:
    """The red/amber/green badge; its reasons are a tooltip on hover and focus and, for screen
    readers and touch, the badge's description (aria-describedby); `full` lists them visibly."""
    return {"verdict": verdict, "dom_id": f"{prefix}-{pk}", "full": full}


@register.simple_tag
def health_thresholds() -> dict[str, int]:
    return {"due_soon_days": kpi_due_soon_days(), "halfway_pct": kpi_halfway_pct()}


@register.simple_tag(takes_context=True)
def project_suggestions(context: dict[str, Any], project: Any) -> list[dict[str, Any]]:
    from ..api import suggestion_rows
    from ..suggestions import for_projects

    found = for_projects([project])[project.pk]
    return suggestion_rows(found, reverse("projects:links", args=[project.pk]))


@register.simple_tag(takes_context=True)
def feature_suggestions(context: dict[str, Any], feature: Any) -> list[dict[str, Any]]:
    from ..api import suggestion_rows
    from ..suggestions import for_features

    found = for_features([feature])[feature.pk]
    return suggestion_rows(found, reverse("projects:feature_links", args=[feature.pk]))
