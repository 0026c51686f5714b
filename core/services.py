"""Small helpers every app's services share."""

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import Model, UniqueConstraint

from .permissions import is_admin, user_roles
from .roles import Role

M = TypeVar("M", bound=Model)

# The acting user; an AnonymousUser is refused by the permission checks, never trusted.
Actor = Any


def require(permitted: bool, message: str = "You may not do that.") -> None:
    """Raise PermissionDenied unless the permission check passed."""
    if not permitted:
        raise PermissionDenied(message)


def validate_and_save(instance: M, *, exclude: Iterable[str] | None = None) -> M:
    """full_clean() (fields, choices, lengths, constraints) and save; errors name the field."""
    try:
        instance.full_clean(exclude=list(exclude) if exclude else None)
    except ValidationError as error:
        raise _unique_errors_on_their_field(instance, error) from None
    instance.save()
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
    """Set only the allowed fields; an unknown field is a client error, never silently dropped."""
    allowed = set(allowed)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed here."))
    for name, value in data.items():
        setattr(instance, name, value)
    return instance


def refuse_delete_with_dependents(what: str, dependents: Mapping[str, list[str]]) -> None:
    """Refuse a delete that would orphan children, naming them (archive by status instead)."""
    parts = [
        f"{label}: {', '.join(names[:5])}{'…' if len(names) > 5 else ''}"
        for label, names in dependents.items()
        if names
    ]
    if parts:
        raise ValidationError(
            f"Cannot delete this {what}; these still depend on it — {'; '.join(parts)}. "
            "Retire it by status instead.",
            code="protected",
        )


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
