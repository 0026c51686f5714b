"""Writes for goals, KPIs and KPI check-ins.

Every caller (forms, API, admin, commands) uses these.
"""

import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from core.permissions import can_manage_strategy
from core.services import (
    Actor,
    apply_fields,
    refuse_delete_with_dependents,
    require,
    validate_and_save,
)

from .models import KPI, BusinessGoal, KPICheckIn

GOAL_FIELDS = (
    "title",
    "description",
    "owner",
    "status",
    "priority",
    "horizon_start",
    "horizon_end",
)
KPI_FIELDS = ("name", "unit", "baseline", "target", "current", "direction", "due_date")


@transaction.atomic
def goal_create(*, actor: Actor, **fields: Any) -> BusinessGoal:
    """Create a goal; the owner defaults to the executive creating it."""
    require(can_manage_strategy(actor), "Only executives define goals.")
    goal = BusinessGoal()
    apply_fields(goal, fields, GOAL_FIELDS)
    if goal.owner_id is None:
        goal.owner = actor
    return validate_and_save(goal)


@transaction.atomic
def goal_update(*, goal: BusinessGoal, actor: Actor, **fields: Any) -> BusinessGoal:
    """Change a goal's fields (retire it by setting status)."""
    require(can_manage_strategy(actor), "Only executives change goals.")
    apply_fields(goal, fields, GOAL_FIELDS)
    return validate_and_save(goal)


@transaction.atomic
def goal_delete(*, goal: BusinessGoal, actor: Actor) -> None:
    """Delete a goal that nothing depends on; with strategies under it, retire it instead."""
    require(can_manage_strategy(actor), "Only executives delete goals.")
    refuse_delete_with_dependents(
        "goal",
        {"business strategies": list(goal.business_strategies.values_list("title", flat=True))},
    )
    goal.delete()


@transaction.atomic
def kpi_create(*, goal: BusinessGoal, actor: Actor, **fields: Any) -> KPI:
    """Add a KPI to a goal."""
    require(can_manage_strategy(actor), "Only executives define KPIs.")
    kpi = KPI(goal=goal)
    apply_fields(kpi, fields, KPI_FIELDS)
    return validate_and_save(kpi)


@transaction.atomic
def kpi_update(*, kpi: KPI, actor: Actor, **fields: Any) -> KPI:
    require(can_manage_strategy(actor), "Only executives change KPIs.")
    apply_fields(kpi, fields, KPI_FIELDS)
    return validate_and_save(kpi)


@transaction.atomic
def kpi_delete(*, kpi: KPI, actor: Actor) -> None:
    require(can_manage_strategy(actor), "Only executives delete KPIs.")
    kpi.delete()


@transaction.atomic
def kpi_check_in(
    *,
    kpi: KPI,
    actor: Actor,
    value: Decimal,
    recorded_on: datetime.date,
    note: str = "",
) -> KPICheckIn:
    """Record a reading; the KPI's current value follows its newest reading."""
    require(can_manage_strategy(actor), "Only executives record KPI readings.")
    check_in = validate_and_save(
        KPICheckIn(kpi=kpi, value=value, recorded_on=recorded_on, note=note, recorded_by=actor),
        exclude=["kpi"],
    )
    newest = kpi.check_ins.order_by("-recorded_on", "-id").values_list("value", flat=True).first()
    KPI.objects.filter(pk=kpi.pk).update(current=newest)
    kpi.current = newest
    return check_in
