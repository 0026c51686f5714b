"""Forms for the sponsor's pages: parse input only; the services hold the rules."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone

from projects.models import ProjectStatus

from .dashboard import FLAG_SORTS
from .models import FlagState, Severity, SubjectType

# Labels for the inbox's orderings; the orderings themselves live in dashboard.FLAG_SORTS.
FLAG_SORT_LABELS = {
    "severity": "Severity, worst first",
    "-severity": "Severity, mildest first",
    "-last_seen": "Last seen, newest first",
    "last_seen": "Last seen, oldest first",
    "-first_seen": "Opened, newest first",
    "first_seen": "Opened, oldest first",
    "rule": "Rule, A to Z",
    "-rule": "Rule, Z to A",
    "subject": "Subject, A to Z",
    "-subject": "Subject, Z to A",
    "state": "State, A to Z",
    "-state": "State, Z to A",
}


class WaiveForm(forms.Form):
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


def _choices(label: str, choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", label), *choices]


class FlagFilterForm(forms.Form):
    """The flag inbox's filters; unknown values are dropped, never a 500."""

    state = forms.ChoiceField(
        label="State",
        required=False,
        choices=[
            ("", "Unresolved"),
            *FlagState.choices,
            ("all", "All, including resolved"),
        ],
    )
    severity = forms.ChoiceField(
        label="Severity", required=False, choices=_choices("Any severity", Severity.choices)
    )
    rule = forms.ChoiceField(label="Rule", required=False, choices=[("", "Any rule")])
    subject_type = forms.ChoiceField(
        label="Subject", required=False, choices=_choices("Any subject", SubjectType.choices)
    )
    mine = forms.BooleanField(label="Only my projects' flags", required=False)
    project = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    sort = forms.ChoiceField(
        label="Sort by",
        required=False,
        choices=[(key, FLAG_SORT_LABELS[key]) for key in FLAG_SORTS],
    )

    def __init__(self, *args: Any, rules: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rule"].choices = [("", "Any rule"), *rules]  # type: ignore[attr-defined]

    def filters(self) -> dict[str, Any]:
        """The valid filters; an invalid one is ignored rather than failing the page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            name: data.get(name, self.fields[name].initial or "")
            for name in ("state", "severity", "rule", "subject_type", "mine", "project", "sort")
            if name not in self.errors
        }


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
