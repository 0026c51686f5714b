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
