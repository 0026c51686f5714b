"""Page forms for goals, KPIs and KPI readings. Services do the writing."""

from django import forms

from core.forms import (
    DateInput,
    DefaultsToActorMixin,
    PersonField,
    ShowsLengths,
    VersionedFormMixin,
)
from core.people import holding
from core.roles import Role

from .models import KPI, BusinessGoal, KPICheckIn
from .services import GOAL_FIELDS, KPI_FIELDS, KPI_READING_FIELDS


class GoalForm(VersionedFormMixin, DefaultsToActorMixin, forms.ModelForm):
    owner = PersonField(holding(Role.EXECUTIVE), required=False)

    class Meta:
        model = BusinessGoal
        fields = GOAL_FIELDS
        widgets = {
            "horizon_start": DateInput(),
            "horizon_end": DateInput(),
            "description": forms.Textarea(attrs={"rows": 4}),
        }
        help_texts = {"owner": "Defaults to you."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.require_person_once_saved()


class KPIForm(VersionedFormMixin, forms.ModelForm):
    class Meta:
        model = KPI
        fields = KPI_FIELDS
        widgets = {"due_date": DateInput()}
        help_texts = {"current": "Recording a reading below updates this."}


class KPICheckInForm(ShowsLengths, forms.Form):
    value = forms.DecimalField(max_digits=16, decimal_places=2)
    recorded_on = forms.DateField(widget=DateInput(), label="Date")
    note = forms.CharField(max_length=500, required=False)


class KPIReadingForm(VersionedFormMixin, forms.ModelForm):
    """Correct a recorded reading (typed wrong, it would distort the trend)."""

    class Meta:
        model = KPICheckIn
        fields = KPI_READING_FIELDS
        widgets = {"recorded_on": DateInput()}
        labels = {"recorded_on": "Date"}
