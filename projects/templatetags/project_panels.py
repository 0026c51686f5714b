"""Project panels for the strategy pages.

A CRM or business strategy's page lists the projects that execute it, but `strategies` never
imports `projects` (dependencies point one way); its templates ask through these tags.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import template
from django.db.models import Exists, OuterRef
from django.urls import reverse

from core.lists import rows_in_order
from projects.models import CRMProject, ProjectLink
from projects.selectors import projects_with_trace

register = template.Library()


# A strategy's page lists at most this many of its projects, by title, and links to the project
# list filtered to the strategy for the rest: the page costs the same whatever their number.
PANEL_PROJECTS = 50


def _panel(projects: Any, list_filter: str, strategy: Any) -> dict[str, Any]:
    """The first PANEL_PROJECTS of `projects` by title (with their figures), how many there are,
    and the project list's address filtered to the same projects."""
    # The page's ids first, then their figures for those ids alone (core.lists): figures read
    # with the filter would evaluate traceability over every project.
    ids = list(projects.order_by("title", "pk").values_list("pk", flat=True)[:PANEL_PROJECTS])
    shown = rows_in_order(projects_with_trace(), ids)
    total = len(shown) if len(shown) < PANEL_PROJECTS else projects.count()
    url = f"{reverse('projects:list')}?{urlencode({list_filter: strategy.pk})}"
    return {"projects": shown, "total": total, "more": total - len(shown), "list_url": url}


@register.simple_tag
def projects_serving_crm_strategy(strategy: Any) -> dict[str, Any]:
    """The projects linked to the CRM strategy (a panel: see _panel), each with the rationale
    of its link as `rationale`."""
    panel = _panel(
        CRMProject.objects.filter(links__crm_strategy=strategy), "crm_strategy", strategy
    )
    rationales = dict(
        ProjectLink.objects.filter(
            crm_strategy=strategy, project_id__in=[p.pk for p in panel["projects"]]
        ).values_list("project_id", "rationale")
    )
    for project in panel["projects"]:
        project.rationale = rationales.get(project.pk, "")
    return panel


@register.simple_tag
def projects_executing_business_strategy(strategy: Any) -> dict[str, Any]:
    """The projects linked to a CRM strategy that serves the business strategy (a panel)."""
    executing = CRMProject.objects.filter(
        Exists(
            ProjectLink.objects.filter(
                project=OuterRef("pk"), crm_strategy__serves__business_strategy=strategy
            )
        )
    )
    return _panel(executing, "business_strategy", strategy)


# At most this many metrics in a goal page's roll-up (the goal's KPIs are listed above it).
GOAL_METRICS_SHOWN = 30


@register.simple_tag
def goal_project_metrics(goal: Any) -> dict[str, Any]:
    """The success metrics of the live and done projects serving the goal (linked to a CRM
    strategy that serves one of its business strategies), each with its baseline, target and
    current (its newest reading): up to GOAL_METRICS_SHOWN, by project, in two queries whatever
    the portfolio size."""
    from projects.models import ProjectStatus, SuccessMetric

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
