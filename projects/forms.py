"""Page forms for projects, features, metrics, roadmap phases, check-ins and the link picker.
Services do the validating writes; their errors are mapped back onto these fields."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.db.models.functions import Lower
from django.urls import reverse

from core.forms import (
    DateInput,
    DefaultsToActorMixin,
    PersonField,
    PickedField,
    PickerInput,
    ShowsLengths,
    VersionedFormMixin,
)
from core.people import holding
from goals.models import BusinessGoal
from strategies.models import CRMStrategy, StrategyStatus

from .models import (
    LIVE_PROJECT_STATUSES,
    CRMProject,
    Department,
    Feature,
    ProjectCheckIn,
    ProjectStatus,
    RoadmapPhase,
    SuccessMetric,
    UserGroup,
)
from .selectors import department_named
from .services import (
    CHECK_IN_FIELDS,
    FEATURE_FIELDS,
    METRIC_FIELDS,
    PHASE_FIELDS,
    PROJECT_FIELDS,
    PROJECT_PEOPLE,
    RATIONALE_RULE,
    WEIGHT_MEANING,
    LinkSpec,
    project_statuses_offered,
    rationale_refusal,
)

# Positions change by moving items on the project page, not by typing a number.
_ORDERED_BY_MOVING = ("position",)


class DepartmentField(PickedField):
    """A department, typed: its name (any case) or its id (what the `<select>` and the API's
    filter took), with suggestions from `/departments/` — not a `<select>` of every department
    (10,000 of them at 100,000 projects). Nobody of that name is an error on this field that
    says what to type, never a 500. Shown by its name."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", PickerInput(lambda: reverse("departments")))
        super().__init__(Department.objects.all(), **kwargs)

    def pick(self, text: str) -> Department | None:
        return department_named(text)

    def label_of(self, obj: Any) -> str:
        return str(obj.name)


class UserGroupsField(forms.CharField):
    """The user groups a project affects, typed as names separated by “;” with suggestions
    from `/user-groups/` for the name being typed — not a `<select>` of every group. All the
    names are looked up in one query; one that names no group is an error on this field that
    says which. Cleans to the list of groups."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            PickerInput(lambda: reverse("user_groups"), attrs={"data-picker-separator": ";"}),
        )
        kwargs.setdefault("max_length", 5000)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return "; ".join(
                group.name if isinstance(group, UserGroup) else str(group) for group in value
            )
        return value

    def clean(self, value: Any) -> list[UserGroup]:
        text = super().clean(value)
        names = list(dict.fromkeys(n.strip() for n in (text or "").split(";") if n.strip()))
        if not names:
            return []
        if len(names) > 100:
            raise forms.ValidationError("Name at most 100 user groups.")
        found = {
            group.name.lower(): group
            for group in UserGroup.objects.alias(lowered=Lower("name")).filter(
                lowered__in=[name.lower() for name in names]
            )
        }
        unknown = [name for name in names if name.lower() not in found]
        if unknown:
            raise forms.ValidationError(
                f"No user group named {', '.join(f'“{n}”' for n in unknown)}. Pick one the "
                "list suggests, or add it under User groups first."
            )
        return [found[name.lower()] for name in names]


class ProjectForm(VersionedFormMixin, DefaultsToActorMixin, forms.ModelForm):
    actor_field = "manager"

    # The people each field offers are those the service accepts (PROJECT_PEOPLE).
    manager = PersonField(
        holding(*PROJECT_PEOPLE["manager"]),
        required=False,
        help_text=(
            "Defaults to you. Only the manager may edit the project; an admin may create one "
            "for someone else."
        ),
    )
    sponsor = PersonField(
        holding(*PROJECT_PEOPLE["sponsor"]),
        required=False,
        help_text="The executive sponsor who approves the project and answers for it.",
    )
    business_owner = PersonField(
        holding(*PROJECT_PEOPLE["business_owner"]),
        required=False,
        help_text="The person on the business side accountable for the outcome.",
    )
    department = DepartmentField(
        required=False,
        label="Business-owner department",
        help_text="The department that owns the project.",
    )
    user_groups = UserGroupsField(
        required=False,
        label="User groups affected",
        help_text="The people the change lands on, separated by “;” (e.g. Service agents).",
    )

    class Meta:
        model = CRMProject
        fields = PROJECT_FIELDS
        widgets = {
            "start_date": DateInput(),
            "end_date": DateInput(),
            "description": forms.Textarea(attrs={"rows": 3}),
            "integration_notes": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {
            "budget_technology": "Technology",
            "budget_people": "People",
            "budget_process": "Process",
            "budget_training": "Training",
            "budget_incentives": "Incentives",
        }

    budget_fields = (
        "budget_technology",
        "budget_people",
        "budget_process",
        "budget_training",
        "budget_incentives",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["user_groups"] = list(
                UserGroup.objects.filter(project_links__project=self.instance).order_by("name")
            )
        self.require_person_once_saved()
        # Only the statuses the service accepts from here (a new project is proposed and not
        # approved: it cannot start approved or active).
        current = self.instance.status if self.instance.pk else ProjectStatus.PROPOSED
        offered = project_statuses_offered(
            current=current, approved=self.instance.approved_at is not None
        )
        status_field = self.fields["status"]
        assert isinstance(status_field, forms.ChoiceField)
        status_field.choices = [
            (value, label) for value, label in ProjectStatus.choices if value in offered
        ]
        if ProjectStatus.ACTIVE not in offered:
            status_field.help_text = (
                "A project becomes active once its sponsor has approved it (on the project page)."
            )
        for name in self.budget_fields:
            self.fields[name].widget.attrs.update(min="0", step="0.01")

    def main_fields(self) -> list[forms.BoundField]:
        return [field for field in self.visible_fields() if field.name not in self.budget_fields]

    def budget_bound_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.budget_fields]


class FeatureForm(VersionedFormMixin, forms.ModelForm):
    class Meta:
        model = Feature
        fields = [f for f in FEATURE_FIELDS if f not in _ORDERED_BY_MOVING]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class MetricForm(VersionedFormMixin, forms.ModelForm):
    class Meta:
        model = SuccessMetric
        fields = METRIC_FIELDS


class PhaseForm(VersionedFormMixin, forms.ModelForm):
    class Meta:
        model = RoadmapPhase
        fields = [f for f in PHASE_FIELDS if f not in _ORDERED_BY_MOVING]
        widgets = {"start_date": DateInput(), "end_date": DateInput()}


class CheckInForm(ShowsLengths, forms.ModelForm):
    class Meta:
        model = ProjectCheckIn
        fields = CHECK_IN_FIELDS
        widgets = {"checked_in_on": DateInput(), "summary": forms.Textarea(attrs={"rows": 2})}
        labels = {"checked_in_on": "Date"}


class CheckInEditForm(VersionedFormMixin, CheckInForm):
    """Correct a recorded check-in."""

    class Meta(CheckInForm.Meta):
        pass


class LinkPickerForm(ShowsLengths, forms.Form):
    """Choose the CRM strategies a project or feature serves, each with a rationale and an
    optional weight. One row per offered strategy: live ones, plus any already linked. Carries
    the version of the project or feature it was opened at, so links saved meanwhile are not
    silently replaced."""

    rationale_help = RATIONALE_RULE
    weight_help = WEIGHT_MEANING

    def __init__(
        self,
        *args: Any,
        strategies: Iterable[CRMStrategy],
        current: dict[int, Any],
        version: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"] = forms.IntegerField(
            widget=forms.HiddenInput, required=False, initial=version
        )
        self.strategies = list(strategies)
        self.current = current
        self.rows: list[dict[str, Any]] = []
        for strategy in self.strategies:
            link = current.get(strategy.pk)
            self.fields[f"use_{strategy.pk}"] = forms.BooleanField(
                required=False, label=strategy.title, initial=link is not None
            )
            self.fields[f"rationale_{strategy.pk}"] = forms.CharField(
                required=False,
                max_length=500,
                label=f"How it serves “{strategy.title}”",
                initial=link.rationale if link else "",
            )
            self.fields[f"weight_{strategy.pk}"] = forms.IntegerField(
                required=False,
                min_value=1,
                max_value=100,
                label=f"Weight for “{strategy.title}”",
                initial=link.weight if link else None,
            )
            self.rows.append(
                {
                    "strategy": strategy,
                    "use": self[f"use_{strategy.pk}"],
                    "rationale": self[f"rationale_{strategy.pk}"],
                    "weight": self[f"weight_{strategy.pk}"],
                    "retired": strategy.status == StrategyStatus.RETIRED,
                    "serves": [
                        (serves.business_strategy, serves.business_strategy.goal)
                        for serves in strategy.serves.all()
                    ],
                }
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # Each ticked link says how it serves its strategy (the service's rule, checked here
        # too so the message sits next to the row's rationale). A stored rationale left as it
        # was is kept even if it predates the rule.
        for strategy in self.strategies:
            if not cleaned.get(f"use_{strategy.pk}"):
                continue
            name = f"rationale_{strategy.pk}"
            text = (cleaned.get(name) or "").strip()
            link = self.current.get(strategy.pk)
            if link is not None and link.rationale == text:
                continue
            refusal = rationale_refusal(text)
            if refusal is not None and name not in self.errors:
                self.add_error(name, refusal)
        return cleaned

    def link_specs(self) -> list[LinkSpec]:
        data = self.cleaned_data
        return [
            LinkSpec(
                crm_strategy_id=strategy.pk,
                rationale=data[f"rationale_{strategy.pk}"].strip(),
                weight=data[f"weight_{strategy.pk}"],
            )
            for strategy in self.strategies
            if data.get(f"use_{strategy.pk}")
        ]


class UserGroupForm(VersionedFormMixin, forms.ModelForm):
    class Meta:
        model = UserGroup
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class UserGroupPickField(PickedField):
    """One user group, typed: its name (any case) or its id, with suggestions from
    `/user-groups/`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", PickerInput(lambda: reverse("user_groups")))
        super().__init__(UserGroup.objects.all(), **kwargs)

    def pick(self, text: str) -> UserGroup | None:
        text = text.strip()
        if not text:
            return None
        if text.isdigit() and len(text) < 19:
            found = UserGroup.objects.filter(pk=int(text)).first()
        else:
            found = (
                UserGroup.objects.alias(lowered=Lower("name")).filter(lowered=text.lower()).first()
            )
        if found is None:
            raise forms.ValidationError(f"No user group named “{text}”.")
        return found

    def label_of(self, obj: Any) -> str:
        return str(obj.name)


class RoadmapFilterForm(forms.Form):
    """The roadmap timeline's filters (all optional)."""

    goal = forms.ModelChoiceField(
        queryset=BusinessGoal.objects.order_by("title"), required=False, empty_label="Any goal"
    )
    status = forms.ChoiceField(
        choices=[("", "Any live status")]
        + [(s.value, s.label) for s in ProjectStatus if s.value in LIVE_PROJECT_STATUSES],
        required=False,
    )
    user_group = UserGroupPickField(required=False, label="User group")
    department = DepartmentField(required=False)
