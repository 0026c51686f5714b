"""Page forms for business strategies and CRM strategies. Services do the writing."""

from django import forms
from django.db.models import Q

from core.forms import DefaultsToActorMixin, PersonField, VersionedFormMixin
from core.people import holding
from core.roles import Role
from goals.models import BusinessGoal, GoalStatus

from .models import BusinessStrategy, CRMStrategy, StrategyStatus
from .services import BUSINESS_STRATEGY_FIELDS, CRM_STRATEGY_FIELDS, CRM_STRATEGY_SERVES


class GoalChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: BusinessGoal) -> str:
        return obj.title if obj.status == GoalStatus.ACTIVE else f"{obj.title} ({obj.status})"


class BusinessStrategyForm(VersionedFormMixin, DefaultsToActorMixin, forms.ModelForm):
    goal = GoalChoiceField(
        queryset=BusinessGoal.objects.none(), help_text="The goal this strategy helps reach."
    )
    owner = PersonField(holding(Role.EXECUTIVE), required=False, help_text="Defaults to you.")

    class Meta:
        model = BusinessStrategy
        fields = BUSINESS_STRATEGY_FIELDS
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.require_person_once_saved()
        # Retired goals are offered only when already chosen (the service refuses new ones).
        current = self.instance.goal_id if self.instance.pk else None
        self.fields["goal"].queryset = BusinessGoal.objects.filter(
            ~Q(status=GoalStatus.RETIRED) | Q(pk=current)
        ).order_by("title")


class BusinessStrategyChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: BusinessStrategy) -> str:
        label = f"{obj.title} — goal: {obj.goal.title}"
        return label if obj.status == StrategyStatus.ACTIVE else f"{label} ({obj.status})"


class CRMStrategyForm(VersionedFormMixin, DefaultsToActorMixin, forms.ModelForm):
    business_strategies = BusinessStrategyChoiceField(
        queryset=BusinessStrategy.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Business strategies it serves",
        help_text="A CRM strategy that serves no active business strategy is a tool, "
        "not a strategy.",
    )
    owner = PersonField(holding(Role.EXECUTIVE), required=False, help_text="Defaults to you.")
    # What it serves is asked right after the customer need, before the capabilities.
    field_order = ["title", "description", "customer_need", CRM_STRATEGY_SERVES]

    class Meta:
        model = CRMStrategy
        fields = (*CRM_STRATEGY_FIELDS, CRM_STRATEGY_SERVES)
        widgets = {
            name: forms.Textarea(attrs={"rows": 3})
            for name in (
                "description",
                "customer_need",
                "capability_people",
                "capability_process",
                "capability_technology",
            )
        }
        labels = {
            "capability_people": "People capabilities",
            "capability_process": "Process capabilities",
            "capability_technology": "Technology capabilities",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.require_person_once_saved()
        served = (
            list(self.instance.serves.values_list("business_strategy_id", flat=True))
            if self.instance.pk
            else []
        )
        self.fields["business_strategies"].queryset = (
            BusinessStrategy.objects.filter(~Q(status=StrategyStatus.RETIRED) | Q(pk__in=served))
            .select_related("goal")
            .order_by("goal__title", "title")
        )
        if self.instance.pk and not self.is_bound:
            self.initial["business_strategies"] = served
