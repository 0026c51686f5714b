"""Business strategies (how a goal is reached) and CRM strategies (what CRM builds for them)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from core.models import (
    Lifecycle,
    StatusStamped,
    TimeStamped,
    UniqueTitleIgnoringCase,
    unique_title_constraint,
)
from goals.models import BusinessGoal

StrategyStatus = Lifecycle


class BusinessStrategy(UniqueTitleIgnoringCase, StatusStamped, TimeStamped):
    """How a goal will be reached, for a scope such as a market segment."""

    goal = models.ForeignKey(
        BusinessGoal, on_delete=models.PROTECT, related_name="business_strategies"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="How we will reach the goal.")
    scope = models.CharField(max_length=200, blank=True, help_text="e.g. a market segment.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_business_strategies"
    )
    status = models.CharField(
        max_length=16, choices=StrategyStatus.choices, default=StrategyStatus.DRAFT
    )

    class Meta:
        ordering = ["goal_id", "title"]
        verbose_name_plural = "business strategies"
        constraints = [
            unique_title_constraint(
                "business_strategy_title_unique_per_goal_ignoring_case", "goal"
            ),
            models.CheckConstraint(
                condition=Q(status__in=StrategyStatus.values),
                name="business_strategy_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("strategies:business_detail", args=[self.pk])

    title_scope = ("goal",)

    def duplicate_title_message(self, existing: "BusinessStrategy") -> str:
        return (
            f"The goal “{self.goal.title}” already has a business strategy named "
            f"“{existing.title}”."
        )


class CRMStrategy(UniqueTitleIgnoringCase, StatusStamped, TimeStamped):
    """What CRM will do for one or more business strategies: the customer need and capabilities."""

    title = models.CharField(max_length=200, db_index=True)
    description = models.TextField(blank=True)
    customer_need = models.TextField(blank=True)
    capability_people = models.TextField(blank=True, help_text="People capabilities it builds.")
    capability_process = models.TextField(blank=True, help_text="Process capabilities it builds.")
    capability_technology = models.TextField(
        blank=True, help_text="Technology capabilities it builds."
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_crm_strategies"
    )
    status = models.CharField(
        max_length=16, choices=StrategyStatus.choices, default=StrategyStatus.DRAFT
    )
    business_strategies = models.ManyToManyField(
        BusinessStrategy,
        through="CRMStrategyServes",
        related_name="crm_strategies",
        blank=True,
    )

    class Meta:
        ordering = ["title"]
        verbose_name = "CRM strategy"
        verbose_name_plural = "CRM strategies"
        constraints = [
            unique_title_constraint("crm_strategy_title_unique_ignoring_case"),
            models.CheckConstraint(
                condition=Q(status__in=StrategyStatus.values), name="crm_strategy_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("strategies:crm_detail", args=[self.pk])


class CRMStrategyServes(models.Model):
    """A CRM strategy's claim to serve a business strategy."""

    crm_strategy = models.ForeignKey(CRMStrategy, on_delete=models.CASCADE, related_name="serves")
    # PROTECT: a business strategy that CRM strategies serve is retired, not deleted.
    business_strategy = models.ForeignKey(
        BusinessStrategy, on_delete=models.PROTECT, related_name="served_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "CRM strategy serves business strategy"
        constraints = [
            models.UniqueConstraint(
                fields=["crm_strategy", "business_strategy"], name="crm_strategy_serves_unique"
            )
        ]
        indexes = [models.Index(fields=["business_strategy", "crm_strategy"])]

    def __str__(self) -> str:
        return f"{self.crm_strategy} → {self.business_strategy}"
