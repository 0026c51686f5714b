"""Writes for business strategies and CRM strategies, including which business strategies a
CRM strategy serves."""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from core.permissions import can_manage_strategy
from core.services import (
    Actor,
    apply_fields,
    refuse_delete_with_dependents,
    require,
    validate_and_save,
)
from goals.models import BusinessGoal, GoalStatus

from .models import BusinessStrategy, CRMStrategy, CRMStrategyServes, StrategyStatus

BUSINESS_STRATEGY_FIELDS = ("goal", "title", "description", "scope", "owner", "status")
CRM_STRATEGY_FIELDS = (
    "title",
    "description",
    "customer_need",
    "capability_people",
    "capability_process",
    "capability_technology",
    "owner",
    "status",
)


def _check_goal_usable(goal: BusinessGoal | None, *, changed: bool) -> None:
    # A new link to something retired would be born broken; an existing one may stay (and flag).
    if changed and goal is not None and goal.status == GoalStatus.RETIRED:
        raise ValidationError({"goal": f"The goal “{goal}” is retired; choose a live goal."})


@transaction.atomic
def business_strategy_create(*, actor: Actor, **fields: Any) -> BusinessStrategy:
    """Create a business strategy under a goal."""
    require(can_manage_strategy(actor), "Only executives define business strategies.")
    strategy = BusinessStrategy()
    apply_fields(strategy, fields, BUSINESS_STRATEGY_FIELDS)
    if strategy.owner_id is None:
        strategy.owner = actor
    if strategy.goal_id is None:
        raise ValidationError({"goal": "Choose the goal this strategy serves."})
    _check_goal_usable(strategy.goal, changed=True)
    return validate_and_save(strategy)


@transaction.atomic
def business_strategy_update(
    *, strategy: BusinessStrategy, actor: Actor, **fields: Any
) -> BusinessStrategy:
    require(can_manage_strategy(actor), "Only executives change business strategies.")
    old_goal_id = strategy.goal_id
    apply_fields(strategy, fields, BUSINESS_STRATEGY_FIELDS)
    if strategy.goal_id is None:
        raise ValidationError({"goal": "Choose the goal this strategy serves."})
    _check_goal_usable(strategy.goal, changed=strategy.goal_id != old_goal_id)
    return validate_and_save(strategy)


@transaction.atomic
def business_strategy_delete(*, strategy: BusinessStrategy, actor: Actor) -> None:
    """Delete a business strategy no CRM strategy serves; otherwise retire it."""
    require(can_manage_strategy(actor), "Only executives delete business strategies.")
    refuse_delete_with_dependents(
        "business strategy",
        {
            "CRM strategies": list(
                strategy.crm_strategies.order_by("title").values_list("title", flat=True)
            )
        },
    )
    strategy.delete()


def _set_business_strategies(
    crm_strategy: CRMStrategy, business_strategies: Iterable[BusinessStrategy]
) -> None:
    wanted = {bs.pk: bs for bs in business_strategies}
    current = set(crm_strategy.serves.values_list("business_strategy_id", flat=True))
    retired = [
        str(bs)
        for pk, bs in wanted.items()
        if pk not in current and bs.status == StrategyStatus.RETIRED
    ]
    if retired:
        raise ValidationError(
            {
                "business_strategies": (
                    f"Retired business strategies cannot be served: {', '.join(retired)}."
                )
            }
        )
    crm_strategy.serves.exclude(business_strategy_id__in=wanted).delete()
    CRMStrategyServes.objects.bulk_create(
        [
            CRMStrategyServes(crm_strategy=crm_strategy, business_strategy_id=pk)
            for pk in wanted
            if pk not in current
        ]
    )


@transaction.atomic
def crm_strategy_create(
    *,
    actor: Actor,
    business_strategies: Iterable[BusinessStrategy] = (),
    **fields: Any,
) -> CRMStrategy:
    """Create a CRM strategy and say which business strategies it serves."""
    require(can_manage_strategy(actor), "Only executives define CRM strategies.")
    strategy = CRMStrategy()
    apply_fields(strategy, fields, CRM_STRATEGY_FIELDS)
    if strategy.owner_id is None:
        strategy.owner = actor
    validate_and_save(strategy)
    _set_business_strategies(strategy, business_strategies)
    return strategy


@transaction.atomic
def crm_strategy_update(
    *,
    strategy: CRMStrategy,
    actor: Actor,
    business_strategies: Iterable[BusinessStrategy] | None = None,
    **fields: Any,
) -> CRMStrategy:
    """Change a CRM strategy; `business_strategies`, when given, replaces the set it serves."""
    require(can_manage_strategy(actor), "Only executives change CRM strategies.")
    apply_fields(strategy, fields, CRM_STRATEGY_FIELDS)
    validate_and_save(strategy)
    if business_strategies is not None:
        _set_business_strategies(strategy, business_strategies)
    return strategy


@transaction.atomic
def crm_strategy_delete(*, strategy: CRMStrategy, actor: Actor) -> None:
    """Delete a CRM strategy no project or feature links to; otherwise retire it."""
    require(can_manage_strategy(actor), "Only executives delete CRM strategies.")
    refuse_delete_with_dependents(
        "CRM strategy",
        {
            "projects": list(strategy.projects.order_by("title").values_list("title", flat=True)),
            "features": list(strategy.features.order_by("title").values_list("title", flat=True)),
        },
    )
    strategy.delete()
