"""Writes for goals, KPIs and KPI check-ins.

Every caller (forms, API, admin, commands) uses these.
"""

import datetime
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef

from core.permissions import can_manage_strategy
from core.services import (
    Actor,
    Restored,
    Version,
    apply_changes,
    apply_fields,
    bulk_upsert,
    bulk_upsert_readings,
    check_version,
    refuse_delete_with_dependents,
    require,
    restore_deleted,
    save_changes,
    update_stored,
    validate_and_save,
)

from .access import goal_for, kpi_for, kpi_reading_for
from .models import KPI, BusinessGoal, GoalStatus, KPICheckIn

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
def goal_reactivate(*, actor: Actor, goal_id: int, version: Version = None) -> BusinessGoal:
    """Make a retired goal active again: the chains through it trace again."""
    goal = goal_for(
        actor, goal_id, change=True, refusal="Only executives reactivate goals.", for_update=True
    )
    check_version(goal, version)
    if goal.status != GoalStatus.RETIRED:
        raise ValidationError(
            {"status": f"Only a retired goal can be reactivated; this one is {goal.status}."}
        )
    return save_changes(
        goal, apply_changes(goal, {"status": GoalStatus.ACTIVE}, ["status"]), actor=actor
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
    _follow_newest_reading(kpi, actor)
    return check_in


def _follow_newest_reading(kpi: KPI, actor: Actor) -> None:
    """The KPI's current value is its newest reading's (unchanged when none is left)."""
    newest = kpi.check_ins.order_by("-recorded_on", "-id").values_list("value", flat=True).first()
    if newest is not None:
        save_changes(kpi, apply_changes(kpi, {"current": newest}, ["current"]), actor=actor)


KPI_READING_FIELDS = ("value", "recorded_on", "note")


def _reading_and_kpi(actor: Actor, reading_id: int, version: Version) -> tuple[KPICheckIn, KPI]:
    """The reading through its gate (404 / 403), and its KPI locked, so the KPI's current value
    follows the readings as they stand when this commits."""
    reading = kpi_reading_for(actor, reading_id, change=True)
    kpi = kpi_for(actor, reading.kpi_id, change=True, for_update=True)
    reading = kpi_reading_for(actor, reading_id, change=True, for_update=True)
    check_version(reading, version)
    return reading, kpi


@transaction.atomic
def kpi_reading_update(
    *, actor: Actor, reading_id: int, changes: Mapping[str, Any], version: Version = None
) -> KPICheckIn:
    """Correct a reading (its value, date or note): typed wrong, it would distort the trend."""
    reading, kpi = _reading_and_kpi(actor, reading_id, version)
    save_changes(reading, apply_changes(reading, changes, KPI_READING_FIELDS), actor=actor)
    _follow_newest_reading(kpi, actor)
    return reading


@transaction.atomic
def kpi_reading_delete(*, actor: Actor, reading_id: int, version: Version = None) -> None:
    """Delete a reading recorded by mistake."""
    reading, kpi = _reading_and_kpi(actor, reading_id, version)
    reading.delete()
    _follow_newest_reading(kpi, actor)


# The bulk path (the workbook import): the same permissions and row checks as the services above,
# in a few statements for thousands of rows. Each row is (stored id or None, fields), foreign
# keys as `<name>_id`, resolved by the caller.
Rows = Sequence[tuple[int | None, Mapping[str, Any]]]


@transaction.atomic
def goals_import(*, actor: Actor, rows: Rows) -> tuple[list[BusinessGoal], list[BusinessGoal]]:
    """Create and update goals in bulk; (created, updated)."""
    require(can_manage_strategy(actor), "Only executives define goals.")
    return bulk_upsert(BusinessGoal, actor=actor, rows=rows, allowed=GOAL_FIELDS)


@transaction.atomic
def kpis_import(*, actor: Actor, rows: Rows) -> tuple[list[KPI], list[KPI]]:
    """Create and update KPIs in bulk; (created, updated)."""
    require(can_manage_strategy(actor), "Only executives define KPIs.")
    return bulk_upsert(KPI, actor=actor, rows=rows, allowed=(*KPI_FIELDS, "goal"))


@transaction.atomic
def kpi_readings_import(*, actor: Actor, rows: Rows) -> tuple[list[KPICheckIn], list[KPICheckIn]]:
    """Record KPI readings in bulk; as with `kpi_check_in`, each KPI that got a reading then
    shows its newest reading as its current value. (created, updated)."""
    require(can_manage_strategy(actor), "Only executives record KPI readings.")
    return bulk_upsert_readings(
        KPICheckIn,
        actor=actor,
        rows=rows,
        allowed=("value", "recorded_on", "note"),
        author="recorded_by",
        parent="kpi",
        parent_model=KPI,
        parent_allowed=KPI_FIELDS,
    )
