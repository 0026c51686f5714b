"""Small helpers every app's services share."""

import dataclasses
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet, UniqueConstraint
from django.http import Http404
from django.utils import timezone

from . import audit
from .permissions import can_read, can_restore, is_admin, user_roles
from .roles import Role

M = TypeVar("M", bound=Model)

# The acting user; an AnonymousUser is refused by the permission checks, never trusted.
Actor = Any
# The version(s) a caller edited: one (a page form), several (an If-Match list), or None.
Version = int | Collection[int] | None


def require(permitted: bool, message: str = "You may not do that.") -> None:
    """Raise PermissionDenied unless the permission check passed."""
    if not permitted:
        raise PermissionDenied(message)


class ServiceUnavailable(Exception):
    """A backing service (the task queue, the cache) did not answer in time: the request is
    refused with a message to try again later (the API answers 503), never a server error."""

    retry_after_seconds = 60


class EditConflict(Exception):
    """The object changed since the caller read it (their version is stale): the edit is
    refused rather than silently overwriting someone else's change."""

    def __init__(self, current: Model) -> None:
        self.current = current
        who = getattr(current, "updated_by", None)
        self.changed_by = (who.get_full_name() or who.get_username()) if who else "someone"
        self.changed_at = getattr(current, "updated_at", None)
        when = (
            timezone.localtime(self.changed_at).strftime("%Y-%m-%d %H:%M %Z")
            if self.changed_at
            else "a moment ago"
        )
        super().__init__(
            f"This {current._meta.verbose_name} was changed by {self.changed_by} at {when} "
            "since you opened it."
        )


def check_version(instance: Model, expected: Version) -> None:
    """Refuse the edit when the caller says which version they edited and it is not the stored
    one (None: the caller did not say, so each field is last-writer-wins). Several versions
    (an If-Match list) pass when the stored one is among them."""
    if expected is None:
        return
    accepted = {expected} if isinstance(expected, int) else set(expected)
    if getattr(instance, "version", None) not in accepted:
        raise EditConflict(instance)


def _stamp(instance: Model, actor: Actor) -> list[str]:
    """Record who changed a versioned row and bump its version; the fields to save with it."""
    if not hasattr(instance, "version"):
        return []
    if instance.pk is None:
        instance.version = 1
    else:
        instance.version += 1
    user = actor if getattr(actor, "is_authenticated", False) else None
    instance.updated_by = user  # type: ignore[attr-defined]
    return ["version", "updated_by", "updated_at"]


def _stamp_status(instance: Model, changed: Iterable[str], actor: Actor) -> list[str]:
    """On a row that records its status changes (`core.models.StatusStamped`): when its status
    is set or changed, who did it and when; the fields to save with it."""
    if not hasattr(instance, "status_changed_at") or "status" not in changed:
        return []
    instance.status_changed_at = timezone.now()  # type: ignore[attr-defined]
    user = actor if getattr(actor, "is_authenticated", False) else None
    instance.status_changed_by = user  # type: ignore[attr-defined]
    return ["status_changed_at", "status_changed_by"]


def update_stored(
    fetch: Callable[..., M],
    pk: Any,
    *,
    actor: Actor,
    changes: Mapping[str, Any],
    allowed: Iterable[str],
    version: Version = None,
) -> M:
    """The whole of an update with no invariant beyond the row's own: fetch and lock it
    through its gate (404 / 403), refuse a stale version, write only what changed."""
    obj = fetch(actor, pk, change=True, for_update=True)
    check_version(obj, version)
    return save_changes(obj, apply_changes(obj, changes, allowed), actor=actor)


def touch(instance: M, *, actor: Actor) -> M:
    """Record that the object changed through something it owns (its links): bump its version
    and say who, writing nothing else, so a stale edit of the object is refused afterwards."""
    instance.save(update_fields=_stamp(instance, actor))
    return instance


def _full_clean(instance: Model, exclude: Iterable[str] | None) -> None:
    try:
        instance.full_clean(exclude=list(exclude) if exclude else None)
    except ValidationError as error:
        raise _unique_errors_on_their_field(instance, error) from None


def validate_and_save(
    instance: M, *, actor: Actor = None, exclude: Iterable[str] | None = None
) -> M:
    """full_clean() (fields, choices, lengths, constraints) and save a new row; errors name
    the field."""
    _full_clean(instance, exclude)
    _stamp(instance, actor)
    if getattr(instance, "status", None):  # a new row's status is a decision too
        _stamp_status(instance, ["status"], actor)
    instance.save()
    return instance


def restore_row(instance: M, *, actor: Actor, exclude: Iterable[str] | None = None) -> M:
    """Insert again, under its old id, a row rebuilt from its history (core.audit.rebuild):
    validated like a new one (a title taken meanwhile, a field out of range is refused, naming
    the field), then saved as who restored it."""
    _full_clean(instance, exclude)
    _stamp(instance, actor)
    instance.save(force_insert=True)
    return instance


@dataclasses.dataclass
class Restored:
    """What a restore brought back, and what of the deleted object's parts it left out."""

    object: Model
    skipped: list[str] = dataclasses.field(default_factory=list)


# A part's reason to stay deleted (None: restore it), e.g. the CRM strategy it linked to was
# retired since.
PartRefusal = Callable[[Model], str | None]


def _missing_target(row: Model) -> str | None:
    """Why `row` cannot come back: something it refers to no longer exists (None: all do)."""
    for fk in row._meta.concrete_fields:
        if not fk.is_relation or fk.related_model is None:
            continue
        value = getattr(row, fk.attname)
        if value is not None and not fk.related_model._base_manager.filter(pk=value).exists():
            return f"its {fk.verbose_name} no longer exists"
    return None


def _belongs(row: Model, restored: Mapping[type[Model], set[Any]]) -> bool:
    """Whether `row` is a part of something this restore brought back (a feature of the
    project, a link of one of its features)."""
    return any(
        fk.is_relation
        and fk.related_model in restored
        and getattr(row, fk.attname) in restored[fk.related_model]  # type: ignore[index]
        for fk in row._meta.concrete_fields
    )


def restore_deleted(
    model: type[M],
    pk: Any,
    *,
    actor: Actor,
    parts: Sequence[tuple[type[Model], PartRefusal | None]] = (),
    check: Callable[[M], None] | None = None,
) -> Restored:
    """Bring back a deleted object from its history under its old id, with the parts its
    deletion took with it (a project's features and links …, in the order given) where what
    they refer to still exists and `parts`' refusal (if any) has no objection. The object is
    validated as a new one would be, and `check` applies the service's own invariants; the
    restore is recorded (each entry names the deletion it undoes). Call inside a transaction."""
    if not can_read(actor):
        raise Http404
    require(
        can_restore(actor),
        "Only executives and admins restore deleted goals, strategies, projects and features.",
    )
    label = str(model._meta.verbose_name)
    entry = audit.deletion(model, pk)
    stored_pk = entry.object_id if entry is not None else pk if str(pk).isdigit() else None
    if stored_pk is not None and model._base_manager.filter(pk=stored_pk).exists():
        raise ValidationError(f"This {label} exists; there is nothing to restore.", code="exists")
    if entry is None or not entry.serialized_data:
        raise Http404
    obj: Any = audit.rebuild(entry)
    missing = _missing_target(obj)
    if missing is not None:
        raise ValidationError(
            f"Cannot restore this {label}: {missing}. Restore that first.", code="missing"
        )
    skipped: list[str] = []
    with audit.restoring(entry):
        if check is not None:
            check(obj)
        restore_row(obj, actor=actor)
        restored: dict[type[Model], set[Any]] = {model: {obj.pk}}
        for part_model, refusal in parts:
            for part_entry in audit.deleted_with(entry, part_model):
                row = audit.rebuild(part_entry)
                if not _belongs(row, restored):
                    continue  # deleted at the same time, but a part of something else
                why = _missing_target(row) or (refusal(row) if refusal else None)
                if why is None:
                    try:
                        with transaction.atomic():
                            restore_row(row, actor=actor)
                    except ValidationError as error:
                        why = "; ".join(error.messages)
                if why is None:
                    restored.setdefault(part_model, set()).add(row.pk)
                else:
                    kind = part_model._meta.verbose_name
                    skipped.append(f"{kind} “{part_entry.object_repr}”: {why}")
    return Restored(obj, skipped)


def apply_changes(instance: Model, changes: Mapping[str, Any], allowed: Iterable[str]) -> list[str]:
    """Set the allowed fields on a row loaded from the database; return the names whose value
    really changed. An unknown field is a client error, never silently dropped."""
    allowed = set(allowed)
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed here."))
    changed = []
    for name, value in changes.items():
        field = instance._meta.get_field(name)
        before = field.value_from_object(instance)  # type: ignore[union-attr]
        setattr(instance, name, value)
        if field.value_from_object(instance) != before:  # type: ignore[union-attr]
            changed.append(name)
    return changed


def save_changes(
    instance: M, changed: Iterable[str], *, actor: Actor, exclude: Iterable[str] | None = None
) -> M:
    """Validate the whole row, then write only the changed fields (plus version and who), so a
    concurrent edit of another field is never overwritten. Nothing changed: nothing written."""
    changed = list(changed)
    if not changed:
        return instance
    _full_clean(instance, exclude)
    stamped = [*_stamp(instance, actor), *_stamp_status(instance, changed, actor)]
    instance.save(update_fields=[*changed, *stamped])
    return instance


def _unique_errors_on_their_field(instance: Model, error: ValidationError) -> ValidationError:
    """Django reports a UniqueConstraint over (parent, name) as a form-wide error; put it on
    the constraint's last field (the name, the title, the linked strategy) where a user or
    client looks for it."""
    if not hasattr(error, "error_dict") or NON_FIELD_ERRORS not in error.error_dict:
        return error
    by_message = {
        str(constraint.get_violation_error_message()): constraint.fields[-1]
        for constraint in instance._meta.constraints
        if isinstance(constraint, UniqueConstraint) and constraint.fields
    }
    errors: dict[str, list[ValidationError]] = {
        field: list(field_errors)
        for field, field_errors in error.error_dict.items()
        if field != NON_FIELD_ERRORS
    }
    for item in error.error_dict[NON_FIELD_ERRORS]:
        field = next((by_message[m] for m in item.messages if m in by_message), NON_FIELD_ERRORS)
        errors.setdefault(field, []).append(item)
    return ValidationError(errors)


def apply_fields(instance: M, data: Mapping[str, Any], allowed: Iterable[str]) -> M:
    """Set only the allowed fields on a new row; an unknown field is a client error."""
    apply_changes(instance, data, allowed)
    return instance


def _first_five(names: Sequence[str]) -> str:
    """Names for a refusal: the first five, and "…" when there are more."""
    return f"{', '.join(names[:5])}{'…' if len(names) > 5 else ''}"


def refuse_delete_with_dependents(what: str, dependents: Mapping[str, list[str]]) -> None:
    """Refuse a delete that would orphan children, naming them (archive by status instead)."""
    parts = [f"{label}: {_first_five(names)}" for label, names in dependents.items() if names]
    if parts:
        raise ValidationError(
            f"Cannot delete this {what}; these still depend on it — {'; '.join(parts)}. "
            "Retire it by status instead.",
            code="protected",
        )


def delete_unless_named(row: Model, naming: QuerySet[Any], refusal: Callable[[str], str]) -> None:
    """Delete a catalogue row (a department, user group, system: nothing to retire it by) that
    no project names; while the projects in `naming` still do, refuse with `refusal(their
    first five titles)`."""
    titles = list(naming.order_by("title").values_list("title", flat=True)[:6])
    if titles:
        raise ValidationError(refusal(_first_five(titles)), code="protected")
    row.delete()


def require_people_roles(
    instance: Model,
    people: Mapping[str, tuple[Role, ...]],
    *,
    previous: Mapping[str, Any] | None = None,
) -> None:
    """Each person field names an active user holding one of its roles (superusers always do;
    an empty tuple means any role). Only new or changed values are checked, so a person who
    later lost a role does not block unrelated edits."""
    errors: dict[str, str] = {}
    for field, roles in people.items():
        user_id = getattr(instance, f"{field}_id")
        if user_id is None or (previous is not None and previous.get(field) == user_id):
            continue
        user = getattr(instance, field)
        held = user_roles(user)  # empty for an inactive user
        if is_admin(user) or (held & {r.value for r in roles} if roles else held):
            continue
        role = " or ".join(str(r.label).lower() for r in roles)
        errors[field] = f"{user.get_username()} cannot be the {field.replace('_', ' ')}: " + (
            f"they need the {role} role." if roles else "they have no role here."
        )
    if errors:
        raise ValidationError(errors)


def bulk_upsert(
    model: type[M],
    *,
    actor: Actor,
    rows: Iterable[tuple[int | None, Mapping[str, Any]]],
    allowed: Iterable[str],
    exclude_from_clean: Iterable[str] = (),
    batch_size: int = 2000,
    history_related: Sequence[str] = (),
) -> tuple[list[M], list[M]]:
    """The bulk path of create and update for imports: each row is (the stored row's id or None
    for a new one, the fields). Every row is checked as `validate_and_save` / `save_changes`
    check one (fields, choices, lengths, validators, the model's clean()), stamped with who and
    a new version, and written in a few statements: one bulk insert, one bulk update per batch.
    Rows that change nothing are not written. References (foreign keys, given as `<name>_id`)
    and uniqueness are the caller's to have resolved set-based beforehand (a per-row check
    would query once per row); the database's constraints still stand behind them.
    Each row written gets its entry in the change history (`audit.log_rows`, a few statements:
    bulk writes send no signal); `history_related` names the relations an entry's name or page
    reads, fetched once for all. Returns (created, updated)."""
    allowed = set(allowed)
    rows = list(rows)
    exclude = [*exclude_from_clean]
    updates = [(pk, fields) for pk, fields in rows if pk is not None]
    stored: dict[Any, M] = {}
    pks = [pk for pk, _ in updates]
    for start in range(0, len(pks), batch_size):
        chunk = pks[start : start + batch_size]
        stored.update(model._default_manager.select_for_update().in_bulk(chunk))  # type: ignore[attr-defined]
    created: list[M] = []
    updated: list[M] = []
    changed_fields: set[str] = set()
    before: dict[int, dict[str, Any]] = {}
    for pk, fields in rows:
        unknown = {name.removesuffix("_id") for name in fields} - allowed
        if unknown:
            raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be set here."))
        if pk is None:
            instance = model(**fields)
            _full_clean_fields(instance, exclude)
            _stamp(instance, actor)
            created.append(instance)
            continue
        instance = stored[pk]
        changed = [name for name, value in fields.items() if getattr(instance, name) != value]
        if not changed:
            continue
        before[id(instance)] = {name: getattr(instance, name) for name in changed}
        for name in changed:
            setattr(instance, name, fields[name])
        _full_clean_fields(instance, exclude)
        _stamp(instance, actor)
        changed_fields.update(changed)
        updated.append(instance)
    model._default_manager.bulk_create(created, batch_size=batch_size)  # type: ignore[attr-defined]
    if updated:
        now = timezone.now()
        for instance in updated:
            if hasattr(instance, "updated_at"):
                instance.updated_at = now  # type: ignore[attr-defined]
        stamps = ["version", "updated_by", "updated_at"] if hasattr(model, "version") else []
        model._default_manager.bulk_update(  # type: ignore[attr-defined]
            updated, sorted(changed_fields) + stamps, batch_size=batch_size
        )
    tracked = audit.tracked_fields(model)  # type: ignore[arg-type]
    by_attname = {f.attname: f.name for f in model._meta.concrete_fields if f.name in tracked}
    audit.log_rows(
        [
            *(
                (
                    instance,
                    audit.CREATED,
                    {name: (None, getattr(instance, att)) for att, name in by_attname.items()},
                )
                for instance in created
            ),
            *(
                (
                    instance,
                    audit.UPDATED,
                    {
                        by_attname[att]: (old, getattr(instance, att))
                        for att, old in before[id(instance)].items()
                        if att in by_attname
                    },
                )
                for instance in updated
            ),
        ],
        related=history_related,
        batch_size=batch_size,
    )
    return created, updated


def bulk_upsert_readings(
    model: type[M],
    *,
    actor: Actor,
    rows: Iterable[tuple[int | None, Mapping[str, Any]]],
    allowed: Iterable[str],
    author: str,
    parent: str,
    parent_model: type[Model],
    parent_allowed: Iterable[str],
) -> tuple[list[M], list[M]]:
    """The bulk path of dated readings (a KPI's, a success metric's): each new reading is
    authored (`author`, a user field) by the actor, and every `parent` that got one then shows
    its newest reading's value as its `current` — the last by (date, id) wins. (created,
    updated), as `bulk_upsert`."""
    rows = [
        (pk, {**fields, f"{author}_id": actor.pk} if pk is None else fields) for pk, fields in rows
    ]
    created, updated = bulk_upsert(
        model,
        actor=actor,
        rows=rows,
        allowed=(*allowed, parent, author),
        history_related=(parent,),  # a reading's name and History tab read its parent
    )
    touched = {getattr(reading, f"{parent}_id") for reading in [*created, *updated]}
    newest: dict[int, Any] = {}
    for parent_id, value in (
        model._default_manager.filter(**{f"{parent}_id__in": touched})  # type: ignore[attr-defined]
        .order_by(f"{parent}_id", "recorded_on", "id")
        .values_list(f"{parent}_id", "value")
    ):
        newest[parent_id] = value  # the last one per parent wins: the newest
    bulk_upsert(
        parent_model,
        actor=actor,
        rows=[(parent_id, {"current": value}) for parent_id, value in newest.items()],
        allowed=parent_allowed,
    )
    return created, updated


def _full_clean_fields(instance: Model, exclude: list[str]) -> None:
    """full_clean() without the per-row queries (foreign keys, uniqueness, constraints)."""
    foreign = [field.name for field in instance._meta.concrete_fields if field.is_relation]
    try:
        instance.full_clean(
            exclude=[*exclude, *foreign], validate_unique=False, validate_constraints=False
        )
    except ValidationError as error:
        raise _unique_errors_on_their_field(instance, error) from None
