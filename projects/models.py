"""CRM projects and their features, links to CRM strategies, metrics, roadmap and check-ins."""

from collections.abc import Collection
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Lower, Upper
from django.urls import reverse

from core.models import Correctable, TimeStamped, UniqueTitleIgnoringCase, unique_title_constraint
from strategies.models import CRMStrategy


def _check_dates(start, end) -> None:
    if start and end and end < start:
        raise ValidationError({"end_date": "The end date must be on or after the start date."})


class Department(TimeStamped):
    """A department that can own a project as its business owner; IT is marked as such.
    Versioned like every record people edit: a change from a stale copy is refused."""

    name = models.CharField(max_length=100, unique=True)
    is_it = models.BooleanField(
        default=False, help_text="An IT department: owning a project alone is a risk."
    )

    class Meta:
        ordering = ["name"]
        indexes = [
            # The department pickers look a typed name up in any case: on PostgreSQL
            # `name__iexact` is `UPPER(name) = UPPER(…)`, which the unique index on `name`
            # cannot serve (it serves the suggestions' ORDER BY name).
            models.Index(Upper("name"), name="department_name_upper"),
        ]

    def __str__(self) -> str:
        return self.name


class UserGroup(TimeStamped):
    """The people a change lands on ("Sales reps EMEA", "Service agents"): projects name the
    groups they affect, and `portfolio.change_collision` counts the go-lives hitting each.
    Versioned like every record people edit: a rename from a stale copy is refused."""

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "user group"
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="user_group_name_unique_ignoring_case",
                violation_error_message="That name is already taken (ignoring case).",
            ),
        ]
        indexes = [models.Index(Upper("name"), name="user_group_name_upper")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("projects:user_group_edit", args=[self.pk])

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        """A duplicate name (ignoring case) is refused on the name, naming the group that has it."""
        exclude = set(exclude or ())
        if "name" not in exclude and self.name:
            rows = UserGroup.objects.exclude(pk=self.pk) if self.pk else UserGroup.objects.all()
            existing = (
                rows.alias(lowered=Lower("name"))
                .filter(lowered=Lower(Value(self.name, output_field=models.CharField())))
                .only("pk", "name")
                .first()
            )
            if existing is not None:
                raise ValidationError(
                    {"name": f"A user group named “{existing.name}” already exists."},
                    code="unique",
                )
        super().validate_constraints(exclude=exclude)


class ProjectStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved"
    ACTIVE = "active", "Active"
    ON_HOLD = "on_hold", "On hold"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


# Projects whose chain and health still matter; done and cancelled ones are history.
LIVE_PROJECT_STATUSES = [
    ProjectStatus.PROPOSED,
    ProjectStatus.APPROVED,
    ProjectStatus.ACTIVE,
    ProjectStatus.ON_HOLD,
]
COMMITTED_PROJECT_STATUSES = [ProjectStatus.APPROVED, ProjectStatus.ACTIVE]
# What a sponsor may approve (alignment.services.project_approve).
APPROVABLE_PROJECT_STATUSES = [ProjectStatus.PROPOSED, ProjectStatus.ON_HOLD]

_non_negative = [MinValueValidator(Decimal("0"))]


def _money() -> models.DecimalField:
    return models.DecimalField(
        max_digits=14, decimal_places=2, default=Decimal("0"), validators=_non_negative
    )


class CRMProject(UniqueTitleIgnoringCase, TimeStamped):
    """A CRM initiative: who runs and sponsors it, what it costs, how success is measured."""

    # Indexed for the lists' default order; unique ignoring case by the constraint below.
    title = models.CharField(max_length=200, db_index=True)
    description = models.TextField(blank=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="managed_projects"
    )
    sponsor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sponsored_projects",
        help_text="The executive sponsor.",
    )
    department = models.ForeignKey(
        Department,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="projects",
        help_text="The department that owns the project.",
    )
    business_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="business_owned_projects",
        help_text="The person on the business side accountable for the outcome.",
    )
    status = models.CharField(
        max_length=16, choices=ProjectStatus.choices, default=ProjectStatus.PROPOSED
    )
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    budget_technology = _money()
    budget_people = _money()
    budget_process = _money()
    budget_training = _money()
    budget_incentives = _money()
    integration_notes = models.TextField(
        blank=True, help_text="How it integrates with other systems."
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    crm_strategies = models.ManyToManyField(
        CRMStrategy, through="ProjectLink", related_name="projects", blank=True
    )
    user_groups = models.ManyToManyField(
        UserGroup,
        through="ProjectUserGroup",
        related_name="projects",
        blank=True,
        help_text="The people the change lands on.",
    )

    class Meta:
        ordering = ["title"]
        verbose_name = "CRM project"
        constraints = [
            unique_title_constraint("project_title_unique_ignoring_case"),
            models.CheckConstraint(
                condition=Q(status__in=ProjectStatus.values), name="project_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(start_date__isnull=True)
                | Q(end_date__isnull=True)
                | Q(end_date__gte=F("start_date")),
                name="project_dates_ordered",
                violation_error_message="The end date must be on or after the start date.",
            ),
            models.CheckConstraint(
                condition=Q(budget_technology__gte=0)
                & Q(budget_people__gte=0)
                & Q(budget_process__gte=0)
                & Q(budget_training__gte=0)
                & Q(budget_incentives__gte=0),
                name="project_budget_non_negative",
                violation_error_message="Budgets cannot be negative.",
            ),
        ]
        indexes = [
            models.Index(fields=["status"]),
            models.Index(fields=["manager", "status"]),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("projects:detail", args=[self.pk])

    def duplicate_title_message(self, existing: "CRMProject") -> str:
        return f"A project named “{existing.title}” already exists."

    def clean(self) -> None:
        _check_dates(self.start_date, self.end_date)

    @property
    def budget_capability(self) -> Decimal:
        """Money for people, process, training and incentives: what makes the technology used."""
        return (
            self.budget_people + self.budget_process + self.budget_training + self.budget_incentives
        )

    @property
    def budget_total(self) -> Decimal:
        return self.budget_technology + self.budget_capability


class LinkBase(models.Model):
    """A claim to serve a CRM strategy, with the rationale and an optional weight."""

    rationale = models.CharField(
        max_length=500, blank=True, help_text="How this serves the CRM strategy."
    )
    weight = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Optional contribution weight, 1-100.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class ProjectLink(LinkBase):
    """A project's link to a CRM strategy it serves."""

    project = models.ForeignKey(CRMProject, on_delete=models.CASCADE, related_name="links")
    # PROTECT: a CRM strategy that projects serve is retired, not deleted.
    crm_strategy = models.ForeignKey(
        CRMStrategy, on_delete=models.PROTECT, related_name="project_links"
    )

    class Meta:
        verbose_name = "project link"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "crm_strategy"],
                name="project_link_unique",
                violation_error_message="The project is already linked to this CRM strategy.",
            ),
            models.CheckConstraint(
                condition=Q(weight__isnull=True) | Q(weight__gte=1, weight__lte=100),
                name="project_link_weight_range",
            ),
        ]
        indexes = [
            models.Index(fields=["crm_strategy", "project"]),
            # A CRM strategy's newest rationales: the link suggestions' sample of them
            # (alignment.suggestions), read per strategy without visiting its other links.
            models.Index(
                F("crm_strategy"),
                F("created_at").desc(),
                F("id").desc(),
                condition=~Q(rationale=""),
                name="project_link_rationale_sample",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} → {self.crm_strategy}"


class ProjectUserGroup(models.Model):
    """A project affects a user group (its own row, so the change history records it)."""

    project = models.ForeignKey(
        CRMProject, on_delete=models.CASCADE, related_name="user_group_links"
    )
    # PROTECT: a group projects still name is taken off them first.
    user_group = models.ForeignKey(
        UserGroup, on_delete=models.PROTECT, related_name="project_links"
    )

    class Meta:
        verbose_name = "project user group"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "user_group"],
                name="project_user_group_unique",
                violation_error_message="The project already names this user group.",
            ),
        ]
        # portfolio.change_collision reads a group's projects.
        indexes = [models.Index(fields=["user_group", "project"])]

    def __str__(self) -> str:
        return f"{self.project} affects {self.user_group}"


class FeatureStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    DROPPED = "dropped", "Dropped"


class FeaturePriority(models.IntegerChoices):
    MUST = 1, "Must have"
    SHOULD = 2, "Should have"
    COULD = 3, "Could have"
    WONT = 4, "Won't have (this time)"


class Feature(UniqueTitleIgnoringCase, TimeStamped):
    """A requirement of a project; it must be justified by a CRM strategy too."""

    project = models.ForeignKey(CRMProject, on_delete=models.CASCADE, related_name="features")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    priority = models.PositiveSmallIntegerField(
        choices=FeaturePriority.choices, default=FeaturePriority.SHOULD
    )
    status = models.CharField(
        max_length=16, choices=FeatureStatus.choices, default=FeatureStatus.PROPOSED
    )
    position = models.PositiveIntegerField(default=0, help_text="Order within the project.")
    crm_strategies = models.ManyToManyField(
        CRMStrategy, through="FeatureLink", related_name="features", blank=True
    )

    class Meta:
        ordering = ["project_id", "position", "id"]
        constraints = [
            unique_title_constraint("feature_title_unique_per_project_ignoring_case", "project"),
            models.CheckConstraint(
                condition=Q(status__in=FeatureStatus.values), name="feature_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("projects:feature_detail", args=[self.pk])

    title_scope = ("project",)

    def duplicate_title_message(self, existing: "Feature") -> str:
        return f"This project already has a feature named “{existing.title}”."


class FeatureLink(LinkBase):
    """A feature's link to a CRM strategy it serves."""

    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="links")
    crm_strategy = models.ForeignKey(
        CRMStrategy, on_delete=models.PROTECT, related_name="feature_links"
    )

    class Meta:
        verbose_name = "feature link"
        constraints = [
            models.UniqueConstraint(
                fields=["feature", "crm_strategy"],
                name="feature_link_unique",
                violation_error_message="The feature is already linked to this CRM strategy.",
            ),
            models.CheckConstraint(
                condition=Q(weight__isnull=True) | Q(weight__gte=1, weight__lte=100),
                name="feature_link_weight_range",
            ),
        ]
        indexes = [
            models.Index(fields=["crm_strategy", "feature"]),
            # A CRM strategy's newest rationales: the link suggestions' sample of them
            # (alignment.suggestions), read per strategy without visiting its other links.
            models.Index(
                F("crm_strategy"),
                F("created_at").desc(),
                F("id").desc(),
                condition=~Q(rationale=""),
                name="feature_link_rationale_sample",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.feature} → {self.crm_strategy}"


class SuccessMetric(TimeStamped):
    """How the project's success is measured; useful only with a baseline and a target."""

    project = models.ForeignKey(CRMProject, on_delete=models.CASCADE, related_name="metrics")
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=40, blank=True)
    baseline = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    target = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    current = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["project_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"],
                name="metric_name_unique_per_project",
                violation_error_message="This project already has a metric with that name.",
            ),
            models.CheckConstraint(
                condition=Q(baseline__isnull=True)
                | Q(target__isnull=True)
                | ~Q(target=F("baseline")),
                name="metric_target_differs_from_baseline",
                violation_error_message="The target must differ from the baseline.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.baseline is not None and self.target is not None and self.target == self.baseline:
            raise ValidationError({"target": "The target must differ from the baseline."})


class PhaseKind(models.TextChoices):
    PHASE = "phase", "Phase"
    MILESTONE = "milestone", "Milestone"


class RoadmapPhase(TimeStamped):
    """A phase or milestone on the project's roadmap."""

    project = models.ForeignKey(CRMProject, on_delete=models.CASCADE, related_name="phases")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=PhaseKind.choices, default=PhaseKind.PHASE)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    # A milestone where the change reaches its users (portfolio.change_collision counts these
    # per user group; the integration and benefits rules date from the first one).
    go_live = models.BooleanField(
        default=False, help_text="A milestone where the change reaches its users."
    )

    class Meta:
        ordering = ["project_id", "position", "start_date", "id"]
        verbose_name = "roadmap phase"
        constraints = [
            models.CheckConstraint(
                condition=Q(go_live=False) | Q(kind=PhaseKind.MILESTONE),
                name="phase_go_live_is_milestone",
                violation_error_message="Only a milestone can be a go-live.",
            ),
            models.CheckConstraint(
                condition=Q(start_date__isnull=True)
                | Q(end_date__isnull=True)
                | Q(end_date__gte=F("start_date")),
                name="phase_dates_ordered",
                violation_error_message="The end date must be on or after the start date.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        _check_dates(self.start_date, self.end_date)
        if self.go_live and self.kind != PhaseKind.MILESTONE:
            raise ValidationError({"go_live": "Only a milestone can be a go-live."})
        if self.go_live and self.start_date is None:
            raise ValidationError({"start_date": "A go-live milestone needs its date."})


class Health(models.TextChoices):
    ON_TRACK = "on_track", "On track"
    AT_RISK = "at_risk", "At risk"
    OFF_TRACK = "off_track", "Off track"


class ProjectCheckIn(Correctable):
    """A dated progress note; `project.stalled` looks at the newest."""

    project = models.ForeignKey(CRMProject, on_delete=models.CASCADE, related_name="check_ins")
    checked_in_on = models.DateField()
    health = models.CharField(max_length=16, choices=Health.choices, default=Health.ON_TRACK)
    summary = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "-checked_in_on", "-id"]
        verbose_name = "project check-in"
        indexes = [
            # Each project's newest check-in (goal health, project.stalled): in this index's
            # order, with the health a key column too, so it is read from the index without
            # the table (a covering INCLUDE column would do on PostgreSQL only).
            models.Index(
                fields=["project", "-checked_in_on", "-id", "health"], name="check_in_newest"
            )
        ]

    def __str__(self) -> str:
        return f"{self.project} on {self.checked_in_on}"


# --- Integration register -------------------------------------------------------------------


class System(TimeStamped):
    """A system CRM projects integrate with (ERP, billing, the data warehouse, …), with the
    person who owns it. The catalogue is shared by every project."""

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_systems",
        help_text="Who owns the system.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Upper("name"),
                name="system_name_unique_ignoring_case",
                violation_error_message="A system with that name already exists.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("projects:system_detail", args=[self.pk])

    def validate_constraints(self, exclude: Any = None) -> None:
        # Say which system has the name (and on the field), as titles do.
        if self.name and (exclude is None or "name" not in exclude):
            clash = (
                System.objects.exclude(pk=self.pk)
                .filter(name__iexact=self.name)
                .only("name")
                .first()
            )
            if clash is not None:
                raise ValidationError(
                    {"name": f"A system named “{clash.name}” already exists."}, code="unique"
                )
        super().validate_constraints(exclude=exclude)


class IntegrationStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    DESIGNED = "designed", "Designed"
    BUILT = "built", "Built"
    TESTED = "tested", "Tested"
    LIVE = "live", "Live"


class ProjectSystem(TimeStamped):
    """A system a project touches, how far its integration is, and who owns that integration
    (`project.integration_unplanned` looks for not started or unowned ones near go-live)."""

    project = models.ForeignKey(CRMProject, on_delete=models.CASCADE, related_name="systems")
    # PROTECT: a system projects integrate with cannot leave the catalogue under them.
    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="project_systems")
    status = models.CharField(
        max_length=16, choices=IntegrationStatus.choices, default=IntegrationStatus.NOT_STARTED
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_integrations",
        help_text="Who owns this integration.",
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["project_id", "system__name"]
        verbose_name = "project system"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "system"],
                name="project_system_unique",
                violation_error_message="The project already lists this system.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=IntegrationStatus.values),
                name="project_system_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["system", "project"])]

    def __str__(self) -> str:
        return f"{self.project} ↔ {self.system}"


# --- Benefits review ------------------------------------------------------------------------


class MetricReading(Correctable):
    """A dated reading of a success metric; the metric's current value is its newest reading's.
    `project.benefits_unreviewed` looks for one dated after go-live."""

    metric = models.ForeignKey(SuccessMetric, on_delete=models.CASCADE, related_name="readings")
    recorded_on = models.DateField()
    value = models.DecimalField(max_digits=16, decimal_places=2)
    note = models.CharField(max_length=500, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["metric_id", "recorded_on", "id"]
        verbose_name = "metric reading"
        indexes = [models.Index(fields=["metric", "recorded_on"])]

    def __str__(self) -> str:
        return f"{self.metric.name} = {self.value} on {self.recorded_on}"


class DecisionKind(models.TextChoices):
    """An entry of a project's approval thread. The decisions (approved, rejected, sent back)
    are the sponsor's or an executive's; resubmitted is the manager's answer to a send-back;
    a comment changes nothing."""

    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SENT_BACK = "sent_back", "Sent back"
    RESUBMITTED = "resubmitted", "Resubmitted"
    COMMENT = "comment", "Comment"


# The entries that need words: a rejection says why, a send-back what to fix, a comment itself.
DECISION_KINDS_NEEDING_COMMENT = [
    DecisionKind.REJECTED,
    DecisionKind.SENT_BACK,
    DecisionKind.COMMENT,
]
# The entries that move the approval along; the newest of them is where the project stands.
DECISION_KINDS_OF_STATE = [
    DecisionKind.APPROVED,
    DecisionKind.REJECTED,
    DecisionKind.SENT_BACK,
    DecisionKind.RESUBMITTED,
]
DECISION_COMMENT_MAX = 4000


class ProjectDecision(models.Model):
    """One entry of a project's approval thread: a decision, a resubmission or a comment, with
    who and when. Added, never edited: the thread is the record of how the project was
    decided (alignment.services decides; projects.services resubmits and comments)."""

    project = models.ForeignKey(CRMProject, on_delete=models.CASCADE, related_name="decisions")
    kind = models.CharField(max_length=16, choices=DecisionKind.choices)
    comment = models.TextField(blank=True, max_length=DECISION_COMMENT_MAX)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "created_at", "id"]
        verbose_name = "project decision"
        indexes = [models.Index(fields=["project", "id"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=DecisionKind.values), name="project_decision_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=DECISION_KINDS_NEEDING_COMMENT) | ~Q(comment=""),
                name="project_decision_comment_given",
                violation_error_message="Say why: a comment is required.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project}: {self.get_kind_display().lower()}"  # type: ignore[attr-defined]


def sent_back_decision(thread: "list[ProjectDecision]", status: str) -> "ProjectDecision | None":
    """The send-back the manager still has to answer, from the project's thread (oldest first):
    the newest decision of state when it is a send-back and the project is still waiting
    (proposed or on hold), else None."""
    if status not in APPROVABLE_PROJECT_STATUSES:
        return None
    for entry in reversed(thread):
        if entry.kind in DECISION_KINDS_OF_STATE:
            return entry if entry.kind == DecisionKind.SENT_BACK else None
    return None
