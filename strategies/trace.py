"""The upper half of every chain, defined once: live business strategies, anchored CRM strategies.

- A business strategy is *live* when it is active and its goal is active.
- A serving (CRM strategy → business strategy) *anchors* its CRM strategy when the CRM strategy
  is active and the business strategy it serves is live.
- A CRM strategy is *anchored* when one of its servings anchors it: "a strategy, not a tool".

The lower half (projects and features that trace through an anchored CRM strategy, and off
scope) is `projects.trace`, which builds on these and re-exports them. Pages, rules, dashboards
and the API all use these expressions; nowhere else spells out which statuses a chain needs.
They are database expressions (Q objects and `Exists`), so every list evaluates them set-based.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from goals.models import GoalStatus

from .models import CRMStrategyServes, StrategyStatus


def business_strategy_live_q(path: str = "") -> Q:
    """A live business strategy: active, under an active goal. `path` leads from the queried
    model to the business strategy, e.g. "crm_strategy__serves__business_strategy__"."""
    return Q(**{f"{path}status": StrategyStatus.ACTIVE, f"{path}goal__status": GoalStatus.ACTIVE})


def anchoring_step_q(crm_path: str, business_path: str) -> Q:
    """One step CRM strategy → business strategy that anchors the CRM strategy: the CRM
    strategy is active and the business strategy is live. The paths lead to the two ends (use
    them in one filter() so that a multi-valued path shares its join)."""
    return Q(**{f"{crm_path}status": StrategyStatus.ACTIVE}) & business_strategy_live_q(
        business_path
    )


def anchoring_servings() -> QuerySet[CRMStrategyServes]:
    """The servings that anchor their CRM strategy."""
    return CRMStrategyServes.objects.filter(
        anchoring_step_q("crm_strategy__", "business_strategy__")
    )


def anchored_crm_strategy_exists(crm_strategy_ref: str = "pk") -> Exists:
    """True when the referenced CRM strategy is anchored (active, serving a live business
    strategy): the upper half of every chain."""
    return Exists(anchoring_servings().filter(crm_strategy=OuterRef(crm_strategy_ref)))


def anchored_crm_strategy_ids() -> QuerySet[Any]:
    """The ids of the anchored CRM strategies (an id once per anchoring serving), for an `__in`
    lookup: the same set `anchored_crm_strategy_exists` tests. At a statement's top level
    PostgreSQL may build it once and hash it; inside a subquery run per row (a project's traced
    features) it plans a semi-join and tests each row's strategy by index, as the `Exists`
    would."""
    return anchoring_servings().values("crm_strategy_id")


__all__ = [
    "anchored_crm_strategy_exists",
    "anchored_crm_strategy_ids",
    "anchoring_servings",
    "anchoring_step_q",
    "business_strategy_live_q",
]
