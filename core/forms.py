"""Form helpers shared by the page forms: service errors onto fields, picked fields (people,
departments: typed, with suggestions), dates.

Forms parse input; the services validate and write. A ValidationError a service raises names
the field it is about, and `add_service_errors` puts it next to that field on the page.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.db.models import QuerySet
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils.http import urlencode

from .people import People, label, people_with_roles, resolve
from .services import EditConflict

__all__ = ["PersonField", "PersonInput", "PickedField", "PickerInput", "people_with_roles"]


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


class CountedBoundField(forms.BoundField):
    """A text field with a maximum length shows it with a live counter ("12 / 200 characters",
    components/field.html and static/js/counter.js) instead of the browser's `maxlength`,
    which silently cuts pasted text: longer input is sent, and refused with a message that
    names the field and its limit, so nobody loses words they did not see go."""

    @property
    def max_length(self) -> int | None:
        widget = self.field.widget
        if not isinstance(widget, forms.TextInput | forms.Textarea) or widget.is_hidden:
            return None
        return getattr(self.field, "max_length", None)

    @property
    def length(self) -> int:
        value = self.value()
        return len(str(value)) if value not in (None, "") else 0

    @property
    def over_by(self) -> int:
        limit = self.max_length
        return max(0, self.length - limit) if limit else 0

    @property
    def counter_id(self) -> str:
        return f"{self.auto_id}_count"

    def build_widget_attrs(self, attrs: Any, widget: Any = None) -> Any:
        attrs = super().build_widget_attrs(attrs, widget)
        limit = self.max_length
        if limit and (widget is None or widget is self.field.widget):
            attrs["maxlength"] = False  # rendered without it (False drops an attribute)
            attrs["data-max-length"] = limit
            described = attrs.get("aria-describedby") or self.field.widget.attrs.get(
                "aria-describedby"
            )
            attrs["aria-describedby"] = " ".join(filter(None, [described, self.counter_id]))
        return attrs


class ShowsLengths:
    """A form whose text fields show their maximum length with a counter (CountedBoundField)."""

    bound_field_class: type[forms.BoundField] | None = CountedBoundField


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


class PickerInput(forms.TextInput):
    """A text input for one object picked by name, with suggestions from a picker endpoint
    (`/people/`, `/departments/`) — never a `<select>` of every row. static/js/picker.js asks
    the input's `data-picker-url` (adding `q=`, what was typed) and fills its `<datalist>`;
    without JavaScript it is a plain input the field reads the name from. `url` is called at
    render time (forms are built at import, before the URLs are loaded)."""

    template_name = "core/widgets/picker_input.html"

    def __init__(self, url: Callable[[], str], attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"autocomplete": "off", "spellcheck": "false", **(attrs or {})})
        self.url = url

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget_attrs = context["widget"]["attrs"]
        suggestions = f"{widget_attrs.get('id') or name}-suggestions"
        widget_attrs["list"] = suggestions
        widget_attrs["data-picker-url"] = self.url()
        context["widget"]["suggestions_id"] = suggestions
        return context


class PersonInput(PickerInput):
    """A person's picker input: suggestions from `/people/?for=<the set's key>`."""

    def __init__(self, found: People, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            lambda: f"{reverse('people')}?{urlencode({'for': found.key})}", attrs=attrs
        )
        self.found = found


class PickedField(forms.ModelChoiceField, metaclass=ABCMeta):
    """One object of `queryset`, typed (a picker's text input) rather than chosen from a
    `<select>`: subclasses say how text becomes an object (`pick`, which raises a
    ValidationError saying what to type instead — never a 500) and how an object is shown
    (`label_of`, which `pick` must accept back). An id, what a `<select>` and the API's filters
    sent, is for `pick` to accept too. Once a value is read, the field shows it by its label
    (`?department=7` shows the department's name)."""

    widget = forms.TextInput

    def __init__(self, queryset: QuerySet[Any], **kwargs: Any) -> None:
        super().__init__(queryset=queryset, **kwargs)
        self.model = queryset.model
        self._labels: dict[Any, str] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        # Each form gets its own copy of the field: nothing of one request's may stay behind.
        result = super().__deepcopy__(memo)
        result._labels = {}
        return result

    @abstractmethod
    def pick(self, text: str) -> Any:
        """The object `text` names (None for nothing), or a ValidationError saying what to
        type instead."""

    def label_of(self, obj: Any) -> str:
        return str(obj)

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        if isinstance(value, self.model):
            return value
        found = self.pick(str(value))
        if found is not None:
            self._labels[value] = self.label_of(found)
        return found

    def prepare_value(self, value: Any) -> Any:
        if value in self.empty_values:
            return ""
        if isinstance(value, self.model):
            return self.label_of(value)
        if isinstance(value, int):
            # A stored id (an edit form's initial value): one row, read once per form.
            if value not in self._labels:
                found = self.model._default_manager.filter(pk=value).first()
                self._labels[value] = self.label_of(found) if found else str(value)
            return self._labels[value]
        # What was typed: shown by its label once read, as typed if it named nothing.
        return self._labels.get(value, str(value)) if isinstance(value, str) else str(value)

    def has_changed(self, initial: Any, data: Any) -> bool:
        def picked(value: Any) -> Any:
            try:
                found = self.to_python(self.prepare_value(value))
            except ValidationError:
                return str(value).strip()
            return found.pk if found is not None else None

        return picked(initial) != picked(data)


class PersonField(PickedField):
    """One person of a `People` set, typed: a username, "Name (username)", a full name, or an
    id (what the API's filters always took). An unknown or ambiguous value is an error on this
    field that says what to type instead, never a 500. Shown as "Name (username)".

    `current` (an id): the person the object already names, accepted even if they no longer
    belong to the set — the service checks only changed people."""

    def __init__(self, found: People, **kwargs: Any) -> None:
        kwargs.setdefault("widget", PersonInput(found))
        super().__init__(found.queryset(), **kwargs)
        self.found = found
        self.current: Any = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        result = super().__deepcopy__(memo)
        result.current = None
        return result

    def pick(self, text: str) -> Any:
        # Pages show an error after the field's label; the API under the field's name.
        return resolve(self.found, text, also=self.current)

    def label_of(self, obj: Any) -> str:
        return label(obj)


def keep_current_people(form: forms.BaseForm, instance: Any) -> None:
    """Let each person field of a saved object's form accept the person it names now."""
    if getattr(instance, "pk", None) is None:
        return
    for name, field in form.fields.items():
        if isinstance(field, PersonField):
            field.current = getattr(instance, f"{name}_id", None)


class VersionedFormMixin(ShowsLengths):
    """Carries what the object looked like when the form was opened: its version (a hidden
    field) and each field's value then (Django's hidden initial inputs). A save made from a
    stale page is refused with what changed (see `add_conflict`), and a save sends only the
    fields the person edited, so it never reverts someone else's change to another field."""

    fields: dict[str, forms.Field]
    instance: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        if getattr(self.instance, "pk", None):
            keep_current_people(self, self.instance)  # type: ignore[arg-type]
            for field in self.fields.values():
                field.show_hidden_initial = True
            self.fields["version"] = forms.IntegerField(
                widget=forms.HiddenInput, required=False, initial=self.instance.version
            )

    def clean(self) -> Any:
        cleaned = super().clean()  # type: ignore[misc]
        # Without the version the page was opened at, nobody can tell what the person saw: a
        # save could silently undo a change made meanwhile. Refuse it, asking for a reload.
        if "version" in self.fields and cleaned.get("version") is None:
            raise ValidationError(
                "This form is out of date or incomplete: reload the page and make your change "
                "again.",
                code="no_version",
            )
        return cleaned


def edited_fields(form: forms.BaseForm) -> list[str]:
    """The fields the person changed since the form was opened: compared with the hidden
    initial values the form carried. A field posted without one (a client that does not send
    them) counts as edited, so nothing the person sent is ever dropped."""
    changed = set(form.changed_data)
    return [
        name
        for name in form.fields
        if name != "version" and (name in changed or form.add_initial_prefix(name) not in form.data)
    ]


def _as_data(value: Any) -> list[str]:
    """A value as the strings a browser would post for it."""
    if value is None:
        return [""]
    if isinstance(value, list | tuple | set):
        return [str(getattr(item, "pk", item)) for item in value]
    return [str(getattr(value, "pk", value))]


def _stored_values(form: forms.BaseForm, current: Any) -> dict[str, Any]:
    """The stored object's values in the form's terms (ids for people and links)."""
    names = [name for name in form.fields if name != "version"]
    try:
        values = model_to_dict(current, fields=names)
    except FieldDoesNotExist:  # pragma: no cover - model_to_dict skips unknown names
        values = {}
    return {name: form.fields[name].prepare_value(value) for name, value in values.items()}


def add_conflict(form: forms.BaseForm, conflict: EditConflict) -> None:
    """Explain an edit conflict on the form and make saving again safe.

    At the top: who changed the object and when. The fields the person edited keep their
    input; where someone else changed the same field meanwhile, the value they saved is shown
    next to it. Every other field now shows what is stored, and the form's hidden version and
    initial values move on to the stored ones — so saving again applies exactly the person's
    edits and loses nobody's change."""
    current: Any = conflict.current
    edited = set(edited_fields(form))
    stored = _stored_values(form, current)
    form.add_error(
        None,
        f"{conflict} Your changes are kept below, next to what was saved meanwhile where you "
        "both changed the same field; the other fields now show what is stored. Save again "
        "to apply your changes, or cancel.",
    )
    data = form.data.copy()  # type: ignore[attr-defined]
    for name, value in stored.items():
        field = form.fields[name]
        opened = (
            form[name]
            .field.hidden_widget()
            .value_from_datadict(form.data, form.files, form.add_initial_prefix(name))
        )
        if name in edited:
            # A clash: someone else changed this field too, to something other than ours.
            others_changed = opened is None or field.has_changed(value, opened)
            if others_changed and field.has_changed(value, form[name].data):
                form.add_error(
                    name,
                    f"Saved meanwhile by {conflict.changed_by}: “{_shown(current, name)}”.",
                )
        else:
            key = form.add_prefix(name)
            if isinstance(field.widget, forms.CheckboxInput):
                if value:
                    data[key] = "on"
                else:
                    data.pop(key, None)
            else:
                data.setlist(key, _as_data(value))
        data.setlist(form.add_initial_prefix(name), _as_data(value))
    data[form.add_prefix("version")] = current.version
    form.data = data


def _shown(current: Any, name: str) -> str:
    """A stored value as a person reads it: choice labels, names of people and links."""
    field: Any = current._meta.get_field(name)
    if field.many_to_many:
        return ", ".join(map(str, getattr(current, name).all())) or "(empty)"
    value = getattr(current, name, None)
    if field.choices:
        value = dict(field.flatchoices).get(value, value)
    return str(value) if value not in (None, "") else "(empty)"
