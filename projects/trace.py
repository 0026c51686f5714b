"""THE definitions of the chain's lower half: linked, traceable, off scope, and the chains.

- A project (feature) is *linked* when it has a link to any CRM strategy.
- A link is *traceable* when its CRM strategy is anchored (`strategies.trace`: an active CRM
  strategy serving an active business strategy of an active goal); a project (feature) is
  *traceable* when one of its links is.
- A feature link is *off scope* when the feature's own project has no link to that CRM
  strategy; a feature is off scope when one of its links is.
- A project's *chains* are every path project → CRM strategy → business strategy → goal, each
  traceable or not (the trace endpoint and the project page's breadcrumbs).

The rules (`alignment.rules`), dashboards, the strategy map, the matrix, the readiness checklist,
the pages, the API and the admin all use these; nothing else spells them out. They are database
expressions (`Exists`, Q objects) that any queryset can filter or annotate with, so every list
evaluates them set-based, never a Python walk per row. The upper half is re-exported from
`strategies.trace` so callers find the whole chain here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import BooleanField, Case, Exists, OuterRef, Q, QuerySet, Value, When
from django.db.models.expressions import Combinable

from strategies.trace import (
    anchored_crm_strategy_exists,
    anchored_crm_strategy_ids,
    anchoring_servings,
    anchoring_step_q,
    business_strategy_live_q,
)

from .models import CRMProject, FeatureLink, ProjectLink

# --- Linked and traceable -----------------------------------------------------------------


def link_traceable_exists() -> Exists:
    """For a ProjectLink or FeatureLink queryset (filter or annotate): the link's CRM strategy
    is anchored, so the link traces."""
    return anchored_crm_strategy_exists("crm_strategy_id")


def traceable_project_links() -> QuerySet[ProjectLink]:
    """Project links whose CRM strategy is anchored: what a project's traceability rests on."""
    return ProjectLink.objects.filter(link_traceable_exists())


def traceable_feature_links() -> QuerySet[FeatureLink]:
    """Feature links whose CRM strategy is anchored."""
    return FeatureLink.objects.filter(link_traceable_exists())


def traced_feature_links_in() -> Q:
    """For a FeatureLink queryset: the link traces (its CRM strategy is anchored), as an `__in`
    over the anchored set (`anchored_crm_strategy_ids`) rather than an `Exists` per link: for
    statements that test many links at once, such as counting a page of projects' traced
    features."""
    return Q(crm_strategy_id__in=anchored_crm_strategy_ids())


def traceable_from_links(links_traceable: Iterable[bool]) -> bool:
    """A project (feature) is traceable when one of its links is: from its links, each annotated
    with `link_traceable_exists()` (a list that reads the page's links anyway)."""
    return any(links_traceable)


def project_linked_exists(ref: str = "pk") -> Exists:
    """True when the referenced project links to any CRM strategy."""
    return Exists(ProjectLink.objects.filter(project=OuterRef(ref)))


def project_traceable_exists(ref: str = "pk") -> Exists:
    """True when the referenced project has a traceable link."""
    return Exists(traceable_project_links().filter(project=OuterRef(ref)))


def feature_linked_exists(ref: str = "pk") -> Exists:
    """True when the referenced feature links to any CRM strategy."""
    return Exists(FeatureLink.objects.filter(feature=OuterRef(ref)))


def feature_traceable_exists(ref: str = "pk") -> Exists:
    """True when the referenced feature has a traceable link."""
    return Exists(traceable_feature_links().filter(feature=OuterRef(ref)))


# --- Off scope ------------------------------------------------------------------------------


def project_serves_exists(project: str | int, crm_strategy_ref: str = "pk") -> Exists:
    """True when the project links to the referenced CRM strategy, i.e. the strategy is in the
    scope its features may serve. `project` is a field path on the outer query, or an id."""
    project_value = OuterRef(project) if isinstance(project, str) else project
    return Exists(
        ProjectLink.objects.filter(project=project_value, crm_strategy=OuterRef(crm_strategy_ref))
    )


def feature_link_off_scope() -> Combinable:
    """For a FeatureLink queryset (filter or annotate): its feature's project has no link to
    the link's CRM strategy."""
    return ~project_serves_exists("feature__project_id", "crm_strategy_id")


def off_scope_feature_links() -> QuerySet[FeatureLink]:
    """Feature links to a CRM strategy the feature's project does not serve."""
    return FeatureLink.objects.filter(feature_link_off_scope())


def feature_off_scope_exists(ref: str = "pk") -> Exists:
    """True when the referenced feature serves a CRM strategy its project does not."""
    return Exists(off_scope_feature_links().filter(feature=OuterRef(ref)))


# --- Chains -----------------------------------------------------------------------------------

# From a project link to the business strategies its CRM strategy serves.
_BUSINESS = "crm_strategy__serves__business_strategy__"


def project_trace(project: CRMProject | int) -> list[dict[str, Any]]:
    """Every chain from the project through its CRM strategies and business strategies to goals,
    each element with id, title and status, and whether the chain is traceable. One query; a
    link whose CRM strategy serves nothing is one chain without business strategy and goal."""
    project_id = project if isinstance(project, int) else project.pk
    rows = (
        ProjectLink.objects.filter(project_id=project_id)
        # One annotate() and the values() below share the serving's join: one row per chain.
        .annotate(
            chain_traceable=Case(
                When(anchoring_step_q("crm_strategy__", _BUSINESS), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .values(
            "crm_strategy_id",
            "crm_strategy__title",
            "crm_strategy__status",
            "rationale",
            "weight",
            f"{_BUSINESS}id",
            f"{_BUSINESS}title",
            f"{_BUSINESS}status",
            f"{_BUSINESS}goal_id",
            f"{_BUSINESS}goal__title",
            f"{_BUSINESS}goal__status",
            "chain_traceable",
        )
        .order_by("crm_strategy__title", f"{_BUSINESS}title", f"{_BUSINESS}id")
    )
    chains = []
    for row in rows:
        business = goal = None
        if row[f"{_BUSINESS}id"] is not None:
            business = {
                "id": row[f"{_BUSINESS}id"],
                "title": row[f"{_BUSINESS}title"],
                "status": row[f"{_BUSINESS}status"],
            }
            goal = {
                "id": row[f"{_BUSINESS}goal_id"],
                "title": row[f"{_BUSINESS}goal__title"],
                "status": row[f"{_BUSINESS}goal__status"],
            }
        chains.append(
            {
                "crm_strategy": {
                    "id": row["crm_strategy_id"],
                    "title": row["crm_strategy__title"],
                    "status": row["crm_strategy__status"],
                },
                "rationale": row["rationale"],
                "weight": row["weight"],
                "business_strategy": business,
                "goal": goal,
                "traceable": bool(row["chain_traceable"]),
            }
        )
    return chains


__all__ = [
    "anchored_crm_strategy_exists",
    "anchored_crm_strategy_ids",
    "anchoring_servings",
    "anchoring_step_q",
    "business_strategy_live_q",
    "feature_link_off_scope",
    "feature_linked_exists",
    "feature_off_scope_exists",
    "feature_traceable_exists",
    "link_traceable_exists",
    "off_scope_feature_links",
    "project_linked_exists",
    "project_serves_exists",
    "project_trace",
    "project_traceable_exists",
    "traceable_feature_links",
    "traceable_from_links",
    "traceable_project_links",
    "traced_feature_links_in",
]
