"""Form helpers shared by the page forms: service errors onto fields, people pickers, dates.

Forms parse input; the services validate and write. A ValidationError a service raises names
the field it is about, and `add_service_errors` puts it next to that field on the page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.db.models import Q, QuerySet

from .roles import Role
from .services import EditConflict


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Attach a service's ValidationError to the form: named fields next to their inputs,
    everything else (and fields the form does not show) at the top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, messages in error.message_dict.items():
        if field in form.fields:
            form.add_error(field, messages)
        elif field == NON_FIELD_ERRORS:
            form.add_error(None, messages)
        else:
            form.add_error(None, [f"{_label(field)}: {message}" for message in messages])


def _label(field: str) -> str:
    return field.replace("_", " ").capitalize()


def refusal_message(error: Exception) -> str:
    """A readable sentence from a service's ValidationError or PermissionDenied, naming the
    fields it is about (for a page message, where there is no input to put it next to)."""
    if isinstance(error, ValidationError):
        if hasattr(error, "error_dict"):
            return " ".join(
                message if field == NON_FIELD_ERRORS else f"{_label(field)}: {message}"
                for field, field_messages in error.message_dict.items()
                for message in field_messages
            )
        return " ".join(error.messages)
    return str(error) or "You may not do that."


def people_with_roles(*roles: Role) -> QuerySet[Any]:
    """Active users holding any of `roles` (superusers included), by name."""
    users = get_user_model().objects.filter(is_active=True)
    condition = Q(is_superuser=True)
    if roles:
        condition |= Q(groups__name__in=[role.value for role in roles])
    else:
        condition |= Q(groups__name__in=[role.value for role in Role])
    ids = users.filter(condition).values("pk")
    return users.filter(pk__in=ids).order_by("first_name", "last_name", "username")


class DefaultsToActorMixin:
    """A person field (`actor_field`) left blank on create means "me" (the service fills it);
    once the object exists it must name someone."""

    actor_field = "owner"
    fields: dict[str, forms.Field]
    instance: Any

    def require_person_once_saved(self) -> None:
        field = self.fields[self.actor_field]
        if self.instance.pk:
            field.required = True
            field.help_text = ""


class PersonChoiceField(forms.ModelChoiceField):
    """A user picker that shows full names (with the username to tell namesakes apart)."""

    def label_from_instance(self, obj: Any) -> str:
        name = obj.get_full_name()
        return f"{name} ({obj.get_username()})" if name else obj.get_username()


class VersionedFormMixin:
    """Carries the version of the object the form was opened at (a hidden field), so a save
    made from a stale page is refused with what changed instead of overwriting it."""

    fields: dict[str, forms.Field]
    instance: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        if getattr(self.instance, "pk", None):
            self.fields["version"] = forms.IntegerField(
                widget=forms.HiddenInput, required=False, initial=self.instance.version
            )


def add_conflict(form: forms.BaseForm, conflict: EditConflict) -> None:
    """Explain an edit conflict on the form: who changed it and when at the top, the values
    saved meanwhile next to each field where they differ from the person's input (which is
    kept). The hidden version moves on, so saving again knowingly replaces them."""
    current: Any = conflict.current
    form.add_error(
        None,
        f"{conflict} Your input is kept below, with the values saved meanwhile next to the "
        "fields they differ in; save again to replace them, or cancel to keep them.",
    )
    for name, value in list(form.cleaned_data.items()):
        if name == "version" or name not in form.fields:
            continue
        try:
            field: Any = current._meta.get_field(name)
        except FieldDoesNotExist:  # a form-only input (e.g. a link picker's rows)
            continue
        shown: Any
        if field.many_to_many:
            # A set of links (what a CRM strategy serves): compare the ids, show the rows.
            rows = list(getattr(current, name).all())
            if {row.pk for row in rows} == {getattr(item, "pk", item) for item in value or ()}:
                continue
            shown = ", ".join(map(str, rows))
        else:
            stored = getattr(current, name, None)
            if stored == value or (stored in (None, "") and value in (None, "")):
                continue
            shown = dict(field.flatchoices).get(stored, stored) if field.choices else stored
        form.add_error(name, f"Saved meanwhile by {conflict.changed_by}: “{shown or '(empty)'}”.")
    data = form.data.copy()  # type: ignore[attr-defined]
    data[form.add_prefix("version")] = current.version
    form.data = data
