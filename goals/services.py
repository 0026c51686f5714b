"""Writes for goals, KPIs and KPI check-ins.

Every caller (forms, API, admin, commands) uses these.
"""

import datetime
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef

from core.permissions import can_manage_strategy
from core.services import (
    Actor,
    Restored,
    Version,
    apply_changes,
    apply_fields,
    check_version,
    refuse_delete_with_dependents,
    require,
    restore_deleted,
    save_changes,
    update_stored,
    validate_and_save,
)

from .access import goal_for, kpi_for
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
    return validate_and_save(goal, actor=actor)


@transaction.atomic
def goal_update(
    *, actor: Actor, goal_id: int, changes: Mapping[str, Any], version: Version = None
) -> BusinessGoal:
    """Change a goal's fields (retire it by setting status)."""
    return update_stored(
        goal_for, goal_id, actor=actor, changes=changes, allowed=GOAL_FIELDS, version=version
    )


@transaction.atomic
def goal_delete(*, actor: Actor, goal_id: int, version: Version = None) -> None:
    """Delete a goal that nothing depends on; with strategies under it, or KPIs with recorded
    readings (their history would go with it), retire it instead. KPIs without readings are
    only the goal's own definition and go with it."""
    goal = goal_for(
        actor, goal_id, change=True, refusal="Only executives delete goals.", for_update=True
    )
    check_version(goal, version)
    with_readings = goal.kpis.filter(Exists(KPICheckIn.objects.filter(kpi=OuterRef("pk"))))
    refuse_delete_with_dependents(
        "goal",
        {
            "business strategies": list(goal.business_strategies.values_list("title", flat=True)),
            "KPIs with readings": list(with_readings.values_list("name", flat=True)),
        },
    )
    goal.delete()


@transaction.atomic
def goal_restore(*, actor: Actor, goal_id: int) -> Restored:
    """Bring back a deleted goal from its history, with the KPIs deleted with it."""
    return restore_deleted(BusinessGoal, goal_id, actor=actor, parts=[(KPI, None)])


@transaction.atomic
def kpi_create(*, actor: Actor, goal_id: int, **fields: Any) -> KPI:
    """Add a KPI to a goal."""
    goal = goal_for(actor, goal_id, change=True, refusal="Only executives define KPIs.")
    kpi = KPI(goal=goal)
    apply_fields(kpi, fields, KPI_FIELDS)
    return validate_and_save(kpi, actor=actor)


@transaction.atomic
def kpi_update(
    *, actor: Actor, kpi_id: int, changes: Mapping[str, Any], version: Version = None
) -> KPI:
    """Change a KPI's fields."""
    return update_stored(
        kpi_for, kpi_id, actor=actor, changes=changes, allowed=KPI_FIELDS, version=version
    )


@transaction.atomic
def kpi_delete(*, actor: Actor, kpi_id: int, version: Version = None) -> None:
    """Delete a KPI with its readings."""
    kpi = kpi_for(
        actor, kpi_id, change=True, refusal="Only executives delete KPIs.", for_update=True
    )
    check_version(kpi, version)
    kpi.delete()


@transaction.atomic
def kpi_check_in(
    *,
    actor: Actor,
    kpi_id: int,
    value: Decimal,
    recorded_on: datetime.date,
    note: str = "",
    version: Version = None,
) -> KPICheckIn:
    """Record a reading; the KPI's current value follows its newest reading."""
    kpi = kpi_for(
        actor, kpi_id, change=True, refusal="Only executives record KPI readings.", for_update=True
    )
    check_version(kpi, version)
    check_in = validate_and_save(
        KPICheckIn(kpi=kpi, value=value, recorded_on=recorded_on, note=note, recorded_by=actor),
        exclude=["kpi"],
    )
    newest = kpi.check_ins.order_by("-recorded_on", "-id").values_list("value", flat=True).first()
    save_changes(kpi, apply_changes(kpi, {"current": newest}, ["current"]), actor=actor)
    return check_in
