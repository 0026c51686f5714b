"""Business goals and the KPIs that say whether they are reached."""

from numbers import Number

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from core.models import (
    Correctable,
    StatusStamped,
    TimeStamped,
    UniqueTitleIgnoringCase,
    unique_title_constraint,
)


class GoalStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    ACHIEVED = "achieved", "Achieved"
    RETIRED = "retired", "Retired"


class Priority(models.IntegerChoices):
    HIGH = 1, "High"
    MEDIUM = 2, "Medium"
    LOW = 3, "Low"


class BusinessGoal(UniqueTitleIgnoringCase, StatusStamped, TimeStamped):
    """A business goal an executive owns, e.g. "grow revenue while maintaining profit margin"."""

    title = models.CharField(max_length=200, db_index=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_goals"
    )
    status = models.CharField(max_length=16, choices=GoalStatus.choices, default=GoalStatus.DRAFT)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.MEDIUM)
    horizon_start = models.DateField(null=True, blank=True)
    horizon_end = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["priority", "title"]
        constraints = [
            unique_title_constraint("goal_title_unique_ignoring_case"),
            models.CheckConstraint(
                condition=Q(status__in=GoalStatus.values), name="goal_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(horizon_start__isnull=True)
                | Q(horizon_end__isnull=True)
                | Q(horizon_end__gte=F("horizon_start")),
                name="goal_horizon_ordered",
                violation_error_message="The horizon must end on or after its start.",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def duplicate_title_message(self, existing: "BusinessGoal") -> str:
        return f"A goal named “{existing.title}” already exists."

    def get_absolute_url(self) -> str:
        return reverse("goals:detail", args=[self.pk])

    def clean(self) -> None:
        if self.horizon_start and self.horizon_end and self.horizon_end < self.horizon_start:
            raise ValidationError({"horizon_end": "The horizon must end on or after its start."})


class Direction(models.TextChoices):
    INCREASE = "increase", "Higher is better"
    DECREASE = "decrease", "Lower is better"


class KPI(TimeStamped):
    """A measure of a goal: where it started (baseline), where it must get (target), where it is."""

    goal = models.ForeignKey(BusinessGoal, on_delete=models.CASCADE, related_name="kpis")
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=40, blank=True)
    baseline = models.DecimalField(max_digits=16, decimal_places=2)
    target = models.DecimalField(max_digits=16, decimal_places=2)
    current = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    direction = models.CharField(
        max_length=8, choices=Direction.choices, default=Direction.INCREASE
    )
    due_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["goal_id", "name"]
        verbose_name = "KPI"
        constraints = [
            models.UniqueConstraint(
                fields=["goal", "name"],
                name="kpi_name_unique_per_goal",
                violation_error_message="This goal already has a KPI with that name.",
            ),
            # A target equal to the baseline measures nothing; the direction says which way.
            models.CheckConstraint(
                condition=(Q(direction=Direction.INCREASE) & Q(target__gt=F("baseline")))
                | (Q(direction=Direction.DECREASE) & Q(target__lt=F("baseline"))),
                name="kpi_target_beyond_baseline",
                violation_error_message=(
                    "The target must be above the baseline when higher is better, "
                    "and below it when lower is better."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.goal_id})"

    def clean(self) -> None:
        # full_clean() calls clean() even when a field failed to parse; then there is nothing
        # to compare (the field's own error already names it).
        if not isinstance(self.baseline, Number) or not isinstance(self.target, Number):
            return
        if self.target == self.baseline:
            raise ValidationError({"target": "The target must differ from the baseline."})
        if self.direction == Direction.INCREASE and self.target < self.baseline:
            raise ValidationError(
                {"target": "Higher is better, so the target must be above the baseline."}
            )
        if self.direction == Direction.DECREASE and self.target > self.baseline:
            raise ValidationError(
                {"target": "Lower is better, so the target must be below the baseline."}
            )

    @property
    def progress_percent(self) -> int | None:
        """How far current has moved from baseline towards target, 0-100 (clamped)."""
        if self.current is None:
            return None
        span = self.target - self.baseline
        done = (self.current - self.baseline) / span * 100
        return max(0, min(100, round(done)))


class KPICheckIn(Correctable):
    """One reading of a KPI over time; the history behind its trend."""

    kpi = models.ForeignKey(KPI, on_delete=models.CASCADE, related_name="check_ins")
    value = models.DecimalField(max_digits=16, decimal_places=2)
    recorded_on = models.DateField()
    note = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kpi_id", "recorded_on", "id"]
        verbose_name = "KPI check-in"
        indexes = [models.Index(fields=["kpi", "recorded_on"])]

    def __str__(self) -> str:
        return f"{self.kpi.name} = {self.value} on {self.recorded_on}"
