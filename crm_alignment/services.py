"""Small helpers every app's services share."""

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model

M = TypeVar("M", bound=Model)

# The acting user; an AnonymousUser is refused by the permission checks, never trusted.
Actor = Any


def require(permitted: bool, message: str = "You may not do that.") -> None:
    """Raise PermissionDenied unless the permission check passed."""
    if not permitted:
        raise PermissionDenied(message)


def validate_and_save(instance: M, *, exclude: Iterable[str] | None = None) -> M:
    """full_clean() (fields, choices, lengths, constraints) and save; errors name the field."""
    instance.full_clean(exclude=list(exclude) if exclude else None)
    instance.save()
    return instance


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
