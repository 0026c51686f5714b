"""Writes for business strategies and CRM strategies, including which business strategies a
CRM strategy serves.

Every caller (forms, API, admin, demo) uses these. They take ids and the changes, load and lock
the stored row through strategies.access, and check invariants against what is stored — never
against an instance a form or the admin has already modified.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from core import audit
from core.permissions import can_manage_strategy
from core.services import (
    Actor,
    Restored,
    Version,
    apply_changes,
    apply_fields,
    bulk_upsert,
    check_version,
    refuse_delete_with_dependents,
    require,
    restore_deleted,
    save_changes,
    touch,
    validate_and_save,
)
from goals.access import goal_for
from goals.models import BusinessGoal, GoalStatus

from .access import business_strategy_for, crm_strategy_for
from .models import BusinessStrategy, CRMStrategy, CRMStrategyServes, StrategyStatus

BUSINESS_STRATEGY_FIELDS = ("goal", "title", "description", "scope", "owner", "status")
# A new business strategy is created under `goal_id`; afterwards its goal changes like any field.
_BUSINESS_STRATEGY_CREATE_FIELDS = tuple(f for f in BUSINESS_STRATEGY_FIELDS if f != "goal")
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
# What a CRM strategy serves: business strategy ids, written as one set.
CRM_STRATEGY_SERVES = "business_strategies"


def _usable_goal(actor: Actor, goal_id: Any) -> BusinessGoal:
    """The goal a business strategy is being put under, read from the database and locked so
    it cannot be retired before this transaction commits."""
    if goal_id is None:
        raise ValidationError({"goal": "Choose the goal this strategy serves."})
    try:
        goal = goal_for(actor, goal_id, for_update=True)
    except Http404:
        raise ValidationError({"goal": "There is no such goal."}) from None
    # A new link to something retired would be born broken; an existing one may stay (and flag).
    if goal.status == GoalStatus.RETIRED:
        raise ValidationError({"goal": f"The goal “{goal}” is retired; choose a live goal."})
    return goal


@transaction.atomic
def business_strategy_create(
    *, actor: Actor, goal_id: int | None, **fields: Any
) -> BusinessStrategy:
    """Create a business strategy under a live goal; the owner defaults to its creator."""
    require(can_manage_strategy(actor), "Only executives define business strategies.")
    strategy = BusinessStrategy(goal=_usable_goal(actor, goal_id))
    apply_fields(strategy, fields, _BUSINESS_STRATEGY_CREATE_FIELDS)
    if strategy.owner_id is None:
        strategy.owner = actor
    return validate_and_save(strategy, actor=actor)


@transaction.atomic
def business_strategy_update(
    *,
    actor: Actor,
    business_strategy_id: int,
    changes: Mapping[str, Any],
    version: Version = None,
) -> BusinessStrategy:
    """Change a business strategy's fields (retire it by setting status); moving it to another
    goal needs a live one."""
    strategy = business_strategy_for(actor, business_strategy_id, change=True, for_update=True)
    check_version(strategy, version)
    changed = apply_changes(strategy, changes, BUSINESS_STRATEGY_FIELDS)
    # `changed` compares with the stored row, so a move to another goal is always seen here.
    if "goal" in changed:
        strategy.goal = _usable_goal(actor, strategy.goal_id)
    return save_changes(strategy, changed, actor=actor)


@transaction.atomic
def business_strategy_reactivate(
    *, actor: Actor, business_strategy_id: int, version: Version = None
) -> BusinessStrategy:
    """Make a retired business strategy active again: the chains through it trace again
    (where its goal is active)."""
    strategy = business_strategy_for(
        actor,
        business_strategy_id,
        change=True,
        refusal="Only executives reactivate business strategies.",
        for_update=True,
    )
    return _reactivate(strategy, version, actor, "business strategy")


def _reactivate(strategy: Any, version: Version, actor: Actor, noun: str) -> Any:
    check_version(strategy, version)
    if strategy.status != StrategyStatus.RETIRED:
        raise ValidationError(
            {"status": f"Only a retired {noun} can be reactivated; this one is {strategy.status}."}
        )
    changed = apply_changes(strategy, {"status": StrategyStatus.ACTIVE}, ["status"])
    return save_changes(strategy, changed, actor=actor)


@transaction.atomic
def business_strategy_delete(
    *, actor: Actor, business_strategy_id: int, version: Version = None
) -> None:
    """Delete a business strategy no CRM strategy serves; otherwise retire it."""
    strategy = business_strategy_for(
        actor,
        business_strategy_id,
        change=True,
        refusal="Only executives delete business strategies.",
        for_update=True,
    )
    check_version(strategy, version)
    refuse_delete_with_dependents(
        "business strategy",
        {
            "CRM strategies": list(
                strategy.crm_strategies.order_by("title").values_list("title", flat=True)
            )
        },
    )
    strategy.delete()


def _ids(business_strategies: Iterable[Any]) -> set[int]:
    """Business strategy ids from a client's list (ids) or a form's choice (rows, of which only
    the id is used: their status is read again from the database)."""
    try:
        return {int(getattr(item, "pk", item)) for item in business_strategies}
    except (TypeError, ValueError):
        raise ValidationError(
            {CRM_STRATEGY_SERVES: "Give the business strategies it serves as a list of ids."}
        ) from None


def _set_business_strategies(crm_strategy: CRMStrategy, wanted: set[int]) -> bool:
    """Make `wanted` the set the CRM strategy serves; True if that changed anything."""
    current = set(crm_strategy.serves.values_list("business_strategy_id", flat=True))
    added, removed = wanted - current, current - wanted
    if added:
        # Locked, so none of them is retired before this transaction commits.
        rows = BusinessStrategy.objects.select_for_update().filter(pk__in=added).order_by("title")
        found = {row.pk: row for row in rows}
        missing = sorted(added - set(found))
        if missing:
            raise ValidationError(
                {
                    CRM_STRATEGY_SERVES: "There is no business strategy with id "
                    f"{', '.join(map(str, missing))}."
                }
            )
        # Links that already exist may stay (and flag); a new one to a retired item may not.
        retired = [str(row) for row in found.values() if row.status == StrategyStatus.RETIRED]
        if retired:
            raise ValidationError(
                {
                    CRM_STRATEGY_SERVES: (
                        f"Retired business strategies cannot be served: {', '.join(retired)}."
                    )
                }
            )
    if removed:
        crm_strategy.serves.filter(business_strategy_id__in=removed).delete()
    served = CRMStrategyServes.objects.bulk_create(
        [CRMStrategyServes(crm_strategy=crm_strategy, business_strategy=found[pk]) for pk in added]
        if added
        else []
    )
    # A bulk insert sends no signal: its history is written here, in one statement.
    audit.log_rows(
        [
            (
                row,
                audit.CREATED,
                {
                    "crm_strategy": (None, crm_strategy.pk),
                    "business_strategy": (None, row.business_strategy_id),
                },
            )
            for row in served
        ],
        serialize=True,
    )
    return bool(added or removed)


@transaction.atomic
def crm_strategy_create(
    *, actor: Actor, business_strategies: Iterable[Any] = (), **fields: Any
) -> CRMStrategy:
    """Create a CRM strategy and say which business strategies (ids) it serves."""
    require(can_manage_strategy(actor), "Only executives define CRM strategies.")
    strategy = CRMStrategy()
    apply_fields(strategy, fields, CRM_STRATEGY_FIELDS)
    if strategy.owner_id is None:
        strategy.owner = actor
    wanted = _ids(business_strategies)
    validate_and_save(strategy, actor=actor)
    _set_business_strategies(strategy, wanted)
    return strategy


@transaction.atomic
def crm_strategy_update(
    *,
    actor: Actor,
    crm_strategy_id: int,
    changes: Mapping[str, Any],
    version: Version = None,
) -> CRMStrategy:
    """Change a CRM strategy's fields; `business_strategies` (ids) in the changes replaces the
    set it serves. Either kind of change bumps its version once."""
    strategy = crm_strategy_for(actor, crm_strategy_id, change=True, for_update=True)
    check_version(strategy, version)
    fields = dict(changes)
    serves = fields.pop(CRM_STRATEGY_SERVES, None)
    changed = apply_changes(strategy, fields, CRM_STRATEGY_FIELDS)
    save_changes(strategy, changed, actor=actor)
    if serves is not None and _set_business_strategies(strategy, _ids(serves)) and not changed:
        touch(strategy, actor=actor)
    return strategy


@transaction.atomic
def crm_strategy_reactivate(
    *, actor: Actor, crm_strategy_id: int, version: Version = None
) -> CRMStrategy:
    """Make a retired CRM strategy active again: the projects and features linked to it trace
    again (where what it serves is live)."""
    strategy = crm_strategy_for(
        actor,
        crm_strategy_id,
        change=True,
        refusal="Only executives reactivate CRM strategies.",
        for_update=True,
    )
    return _reactivate(strategy, version, actor, "CRM strategy")


@transaction.atomic
def crm_strategy_delete(*, actor: Actor, crm_strategy_id: int, version: Version = None) -> None:
    """Delete a CRM strategy no project or feature links to; otherwise retire it."""
    strategy = crm_strategy_for(
        actor,
        crm_strategy_id,
        change=True,
        refusal="Only executives delete CRM strategies.",
        for_update=True,
    )
    check_version(strategy, version)
    refuse_delete_with_dependents(
        "CRM strategy",
        {
            "projects": list(strategy.projects.order_by("title").values_list("title", flat=True)),
            "features": list(strategy.features.order_by("title").values_list("title", flat=True)),
        },
    )
    strategy.delete()


# The bulk path (the workbook import): the same permissions and invariants as the services above,
# in a few statements for thousands of rows. Each row is (stored id or None, fields), foreign
# keys as `<name>_id`, resolved by the caller.
Rows = Sequence[tuple[int | None, Mapping[str, Any]]]


@transaction.atomic
def business_strategies_import(
    *, actor: Actor, rows: Rows
) -> tuple[list[BusinessStrategy], list[BusinessStrategy]]:
    """Create and update business strategies in bulk; none is put under a goal that is
    retired (as `business_strategy_create` and a move refuse). (created, updated)."""
    require(can_manage_strategy(actor), "Only executives define business strategies.")
    rows = list(rows)
    stored_goal = dict(
        BusinessStrategy.objects.filter(
            pk__in=[pk for pk, _ in rows if pk is not None]
        ).values_list("pk", "goal_id")
    )
    placed = {
        fields["goal_id"]
        for pk, fields in rows
        if "goal_id" in fields and (pk is None or stored_goal.get(pk) != fields["goal_id"])
    }
    retired = list(
        BusinessGoal.objects.select_for_update()
        .filter(pk__in=placed, status=GoalStatus.RETIRED)
        .order_by("title")
        .values_list("title", flat=True)
    )
    if retired:
        raise ValidationError(
            {"goal": f"These goals are retired; choose a live goal: {', '.join(retired)}."}
        )
    return bulk_upsert(BusinessStrategy, actor=actor, rows=rows, allowed=BUSINESS_STRATEGY_FIELDS)


@transaction.atomic
def crm_strategies_import(
    *, actor: Actor, rows: Rows
) -> tuple[list[CRMStrategy], list[CRMStrategy]]:
    """Create and update CRM strategies in bulk (what they serve: `crm_strategy_serves_import`).
    (created, updated)."""
    require(can_manage_strategy(actor), "Only executives define CRM strategies.")
    return bulk_upsert(CRMStrategy, actor=actor, rows=rows, allowed=CRM_STRATEGY_FIELDS)


@transaction.atomic
def crm_strategy_serves_import(*, actor: Actor, pairs: Iterable[tuple[int, int]]) -> int:
    """Add (CRM strategy id, business strategy id) claims that do not exist yet; as
    `crm_strategy_update` refuses, a new claim to a retired business strategy is refused, and
    each CRM strategy that gained one gets a new version. How many were added."""
    require(can_manage_strategy(actor), "Only executives define CRM strategies.")
    wanted = set(pairs)
    existing = set(
        CRMStrategyServes.objects.filter(
            crm_strategy_id__in={crm for crm, _ in wanted}
        ).values_list("crm_strategy_id", "business_strategy_id")
    )
    added = sorted(wanted - existing)
    targets = {bs for _, bs in added}
    found = {
        row.pk: row for row in BusinessStrategy.objects.select_for_update().filter(pk__in=targets)
    }
    missing = sorted(targets - set(found))
    if missing:
        raise ValidationError(
            {CRM_STRATEGY_SERVES: f"There is no business strategy with id {missing[0]}."}
        )
    retired = sorted({str(row) for row in found.values() if row.status == StrategyStatus.RETIRED})
    if retired:
        raise ValidationError(
            {
                CRM_STRATEGY_SERVES: f"Retired business strategies cannot be served: "
                f"{', '.join(retired)}."
            }
        )
    claims = [CRMStrategyServes(crm_strategy_id=crm, business_strategy_id=bs) for crm, bs in added]
    CRMStrategyServes.objects.bulk_create(claims, batch_size=2000)
    # A bulk insert sends no signal: the history entries are written here.
    audit.log_rows(
        (
            (
                claim,
                audit.CREATED,
                {
                    "crm_strategy": (None, claim.crm_strategy_id),
                    "business_strategy": (None, claim.business_strategy_id),
                },
            )
            for claim in claims
        ),
        related=("crm_strategy", "business_strategy"),
    )
    if added:
        CRMStrategy.objects.filter(pk__in={crm for crm, _ in added}).update(
            version=F("version") + 1, updated_by=actor, updated_at=timezone.now()
        )
    return len(added)


def _servable(row: Any) -> str | None:
    """A restored CRM strategy serves a business strategy again unless it was retired since."""
    if BusinessStrategy.objects.filter(
        pk=row.business_strategy_id, status=StrategyStatus.RETIRED
    ).exists():
        return "that business strategy was retired since"
    return None


@transaction.atomic
def business_strategy_restore(*, actor: Actor, business_strategy_id: int) -> Restored:
    """Bring back a deleted business strategy from its history (under its goal, which must
    still exist)."""
    return restore_deleted(BusinessStrategy, business_strategy_id, actor=actor)


@transaction.atomic
def crm_strategy_restore(*, actor: Actor, crm_strategy_id: int) -> Restored:
    """Bring back a deleted CRM strategy from its history, serving again the business
    strategies it served that still exist and are not retired."""
    return restore_deleted(
        CRMStrategy, crm_strategy_id, actor=actor, parts=[(CRMStrategyServes, _servable)]
    )
