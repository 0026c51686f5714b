"""Forms for the sponsor's pages: parse input only; the services hold the rules."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone

from core.forms import ShowsLengths
from projects.models import ProjectStatus


class WaiveForm(ShowsLengths, forms.Form):
    """A waiver: why the flag is accepted for now, and until when."""

    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why this is acceptable for now; the team and auditors will read it.",
        error_messages={"required": "Give a reason for the waiver."},
    )
    expires_on = forms.DateField(
        label="Waived until",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The waiver ends at the end of this day; the flag then opens again.",
        error_messages={
            "required": "Choose the date the waiver ends.",
            "invalid": "Enter a date such as 2030-12-31.",
        },
    )

    def __init__(self, *args: Any, prefix_id: str = "", **kwargs: Any) -> None:
        # Several waive forms share one inbox page; distinct ids keep every label tied to its input.
        if prefix_id:
            kwargs.setdefault("auto_id", f"id_{prefix_id}_%s")
        super().__init__(*args, **kwargs)

    def expires_at(self) -> datetime.datetime:
        """The end of the chosen day in the current time zone (the service checks it is ahead)."""
        day: datetime.date = self.cleaned_data["expires_on"]
        end = datetime.datetime.combine(day, datetime.time(23, 59, 59))
        return timezone.make_aware(end)


# The service names the model field; the form calls it expires_on.
SERVICE_FIELD_TO_FORM = {"reason": "reason", "expires_at": "expires_on"}


class MatrixFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Project status",
        required=False,
        choices=[
            ("", "Live (proposed, approved, active, on hold)"),
            *ProjectStatus.choices,
            ("all", "All statuses"),
        ],
    )

    def status_value(self) -> str:
        return self.cleaned_data.get("status", "") if self.is_valid() else ""


class MapFilterForm(forms.Form):
    history = forms.BooleanField(label="Include done and cancelled projects", required=False)

    def include_history(self) -> bool:
        return bool(self.cleaned_data.get("history")) if self.is_valid() else False


class BulkFlagForm(forms.Form):
    """Several flags of the inbox decided at once: which, and how (a waiver's reason and end
    date apply to all of them). The service checks each flag as a single decision would."""

    action = forms.ChoiceField(
        label="With the selected flags",
        choices=[("acknowledge", "Acknowledge"), ("waive", "Waive")],
        error_messages={"required": "Choose acknowledge or waive."},
    )
    ids = forms.TypedMultipleChoiceField(
        coerce=int,
        required=True,
        error_messages={
            "required": "Select at least one flag.",
            "invalid_choice": "A flag id must be a whole number.",
        },
    )
    reason = forms.CharField(
        label="Reason for the waivers",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed to waive: why these are acceptable for now.",
    )
    expires_on = forms.DateField(
        label="Waived until",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Needed to waive: the waivers end at the end of this day.",
        error_messages={"invalid": "Enter a date such as 2030-12-31."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any whole number is a choice here: which flags exist and may be decided is the
        # service's question, answered per flag.
        self.fields["ids"].valid_value = _is_flag_id  # type: ignore[attr-defined]

    def expires_at(self) -> datetime.datetime | None:
        """The end of the chosen day in the current time zone, if one was chosen."""
        day: datetime.date | None = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time(23, 59, 59)))


def _is_flag_id(value: Any) -> bool:
    text = str(value)
    return text.isdigit() and 0 < int(text) < 2**63


class InboxGroupForm(forms.Form):
    """How the inbox groups its flags (none: one flat list), and which group is open."""

    group = forms.ChoiceField(
        label="Group by",
        required=False,
        choices=[("", "No grouping"), ("rule", "Rule"), ("project", "Project")],
    )
    open = forms.CharField(required=False, max_length=64)

    def grouping(self) -> tuple[str, str]:
        """(grouping or "", open group's key or ""); an unknown grouping groups nothing."""
        if not self.is_valid():
            return "", ""
        by = self.cleaned_data["group"]
        return by, (self.cleaned_data["open"] if by else "")
