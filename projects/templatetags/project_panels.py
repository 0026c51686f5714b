"""Project panels for the strategy pages.

A CRM or business strategy's page lists the projects that execute it, but `strategies` never
imports `projects` (dependencies point one way); its templates ask through these tags.
"""

from __future__ import annotations

from typing import Any

from django import template

from projects.models import ProjectLink
from projects.selectors import projects_with_trace

register = template.Library()


@register.simple_tag
def projects_serving_crm_strategy(strategy: Any) -> list[tuple[Any, str]]:
    """(project, rationale of its link) for each project linked to the CRM strategy, by title."""
    projects = projects_with_trace().filter(links__crm_strategy=strategy).order_by("title")
    rationales = dict(
        ProjectLink.objects.filter(crm_strategy=strategy).values_list("project_id", "rationale")
    )
    return [(project, rationales.get(project.pk, "")) for project in projects]


@register.simple_tag
def projects_executing_business_strategy(strategy: Any) -> list[Any]:
    """Projects linked to a CRM strategy that serves the business strategy, by title."""
    return list(
        projects_with_trace()
        .filter(links__crm_strategy__serves__business_strategy=strategy)
        .distinct()
        .order_by("title")
    )


# At most this many metrics in a goal page's roll-up (the goal's KPIs are listed above it).
GOAL_METRICS_SHOWN = 30


@register.simple_tag
def goal_project_metrics(goal: Any) -> dict[str, Any]:
    """The success metrics of the live and done projects serving the goal (linked to a CRM
    strategy that serves one of its business strategies), each with its baseline, target and
    current (its newest reading): up to GOAL_METRICS_SHOWN, by project, in two queries whatever
    the portfolio size."""
    from projects.models import CRMProject, ProjectStatus, SuccessMetric

    serving = CRMProject.objects.filter(
        links__crm_strategy__serves__business_strategy__goal=goal
    ).exclude(status=ProjectStatus.CANCELLED)
    metrics = (
        SuccessMetric.objects.filter(project__in=serving.values("pk"))
        .select_related("project")
        .order_by("project__title", "name")
    )
    shown = list(metrics[: GOAL_METRICS_SHOWN + 1])
    return {"metrics": shown[:GOAL_METRICS_SHOWN], "more": len(shown) > GOAL_METRICS_SHOWN}
