"""The alignment engine's records: rule settings, flags with a lifecycle, scans and snapshots."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Case, Q, Value, When


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class RuleSetting(models.Model):
    """An admin's settings for one rule of the catalogue; defaults live in the rule registry."""

    code = models.CharField(max_length=64, unique=True)
    enabled = models.BooleanField(default=True)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    threshold = models.PositiveIntegerField(
        null=True, blank=True, help_text="The rule's number, e.g. days before stalled."
    )
    window = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The rule's second number where it has one, e.g. the days a window spans.",
    )
    blocks_approval = models.BooleanField(
        default=False,
        help_text=(
            "While this rule holds for a project, its sponsor cannot approve it (the reason is "
            "shown). Only rules about a project or its features can block."
        ),
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class SubjectType(models.TextChoices):
    GOAL = "goal", "Goal"
    BUSINESS_STRATEGY = "business_strategy", "Business strategy"
    CRM_STRATEGY = "crm_strategy", "CRM strategy"
    PROJECT = "project", "Project"
    FEATURE = "feature", "Feature"
    # portfolio.overloaded is about a group: a manager, a department or a CRM strategy.
    MANAGER = "manager", "Manager"
    DEPARTMENT = "department", "Department"
    # portfolio.change_collision is about the people several go-lives land on.
    USER_GROUP = "user_group", "User group"


class FlagState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    WAIVED = "waived", "Waived"
    RESOLVED = "resolved", "Resolved"


UNRESOLVED_STATES = [FlagState.OPEN, FlagState.ACKNOWLEDGED, FlagState.WAIVED]

# Worst first: critical 0, warning 1, info 2 — the order lists sort severity in.
SEVERITY_RANK = Case(
    When(severity=Severity.CRITICAL, then=Value(0)),
    When(severity=Severity.WARNING, then=Value(1)),
    default=Value(2),
)


class Flag(models.Model):
    """A rule's finding about one subject, kept as history once resolved."""

    rule = models.CharField(max_length=64)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    # Computed by the database from `severity`, so no writer (the engine's INSERT … SELECT, an
    # admin edit) has to keep it in step; it exists so an index can serve "worst first".
    severity_rank = models.GeneratedField(
        expression=SEVERITY_RANK,
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )
    subject_type = models.CharField(max_length=32, choices=SubjectType.choices)
    subject_id = models.BigIntegerField()
    subject_label = models.CharField(max_length=255)
    # The project the subject belongs to (the project itself, or a feature's project), so
    # sponsors and managers find their flags without a join per subject type.
    project = models.ForeignKey(
        "projects.CRMProject",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="flags",
        db_index=False,  # the (project, state) index below starts with it
    )
    message = models.TextField()
    state = models.CharField(max_length=16, choices=FlagState.choices, default=FlagState.OPEN)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    # When a scan last opened it (inserted it, or reopened it when its waiver expired): the
    # scan's follow-up task finds the flags to tell people of by it (alignment.notify).
    opened_at = models.DateTimeField(null=True, blank=True, editable=False)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    waived_at = models.DateTimeField(null=True, blank=True)
    waiver_reason = models.TextField(blank=True)
    waiver_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            # One unresolved flag per (rule, subject); resolved ones are history and may repeat.
            models.UniqueConstraint(
                fields=["rule", "subject_type", "subject_id"],
                condition=~Q(state="resolved"),
                name="flag_one_unresolved_per_rule_subject",
            ),
            models.CheckConstraint(
                condition=Q(state__in=FlagState.values), name="flag_state_valid"
            ),
            models.CheckConstraint(
                condition=~Q(state="waived")
                | (Q(waiver_expires_at__isnull=False) & ~Q(waiver_reason="")),
                name="flag_waiver_has_reason_and_expiry",
            ),
        ]
        indexes = [
            # The inbox and /api/flags/ by default: unresolved flags, worst first, newest first
            # within a severity. PostgreSQL walks this index and stops after one page instead of
            # sorting every unresolved flag.
            models.Index(
                fields=["severity_rank", "-last_seen", "-id"],
                condition=~Q(state="resolved"),
                name="flag_unresolved_inbox",
            ),
            # The same order for one state (`?state=open`, `?state=resolved`: history grows
            # without bound); its leading `state` also serves counting flags by state.
            models.Index(
                fields=["state", "severity_rank", "-last_seen", "-id"], name="flag_state_inbox"
            ),
            models.Index(fields=["subject_type", "subject_id"]),
            models.Index(fields=["project", "state"]),
            models.Index(
                fields=["opened_at"], condition=Q(state="open"), name="flag_open_opened_at"
            ),
            # Open critical flags per project: goal and business strategy health counts them.
            models.Index(
                fields=["project"],
                condition=Q(state__in=["open", "acknowledged"], severity="critical"),
                name="flag_open_critical_project",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule}: {self.subject_label} ({self.state})"


class ScanState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ScanKind(models.TextChoices):
    FULL = "full", "Full"
    PARTIAL = "partial", "Re-check of changed subjects"


# A scan that gave up because another held the lock is recorded as failed with this prefix; it
# says nothing about the portfolio, so "the last full scan" on dashboards passes over it.
SCAN_SKIPPED_PREFIX = "Skipped: "


class Scan(models.Model):
    """One run of the rule catalogue over the portfolio (full) or over changed subjects."""

    kind = models.CharField(max_length=16, choices=ScanKind.choices, default=ScanKind.FULL)
    state = models.CharField(max_length=16, choices=ScanState.choices, default=ScanState.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    opened = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # {rule code: {"open": n, "opened": n, "resolved": n}} once done.
    per_rule = models.JSONField(default=dict, blank=True)
    # The Celery task running it: a redelivered or retried message finds the same record.
    task_id = models.CharField(max_length=255, blank=True, default="")
    # How many times a worker has started it (a redelivery after a lost worker, a retry after
    # a lost database connection); bounded by ALIGNMENT_SCAN_MAX_ATTEMPTS.
    attempts = models.PositiveSmallIntegerField(default=0)
    # A scan tells people of the flags it opened after it commits, in a follow-up task
    # (`alignment.notify.tell_scan`): the time it stamped on those flags (`Flag.opened_at`),
    # and when they were told (null until then, the sweep queuing the task again; the
    # scan's own time when it opened none).
    evaluated_at = models.DateTimeField(null=True, blank=True)
    told_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["kind", "state"]),
            models.Index(fields=["state"]),
            # The sweep's "scans whose people were not told yet": a handful of rows at most.
            models.Index(
                fields=["finished_at"],
                condition=Q(evaluated_at__isnull=False, told_at__isnull=True),
                name="scan_untold",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["task_id"], condition=~Q(task_id=""), name="scan_task_id_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Scan {self.pk} ({self.kind}, {self.state})"


class Snapshot(models.Model):
    """The figures each full scan records once it has committed: the trend charts read every
    snapshot, the dashboard and the summary API the latest (they never recompute the portfolio
    per request)."""

    scan = models.OneToOneField(Scan, on_delete=models.CASCADE, related_name="snapshot")
    taken_at = models.DateTimeField()
    projects_total = models.PositiveIntegerField(default=0)
    projects_traced = models.PositiveIntegerField(default=0)
    features_total = models.PositiveIntegerField(default=0)
    features_traced = models.PositiveIntegerField(default=0)
    budget_total = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    budget_traced = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    # Null on snapshots recorded before the summary carried them.
    budget_technology = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    budget_capability = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    open_by_rule = models.JSONField(default=dict)
    open_by_severity = models.JSONField(default=dict)
    # The dashboard's other figures as alignment.dashboard.dashboard_figures() computes them
    # (investment by goal and business strategy, the spend split, the projects with the most
    # untraced features); amounts are decimal strings. Empty on older snapshots.
    figures = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-taken_at", "-id"]
        # The dashboard and the summary read the newest snapshot on every request.
        indexes = [models.Index(fields=["taken_at", "id"], name="snapshot_taken_at")]

    def __str__(self) -> str:
        return f"Snapshot at {self.taken_at:%Y-%m-%d %H:%M}"


class ScanMatch(models.Model):
    """What the rules matched, while a scan works: a temporary table of the scan's database
    session (created by alignment.engine, never migrated). Every rule's query runs once, in one
    statement, into it, with the severity and message its flag should carry; resolve, reopen,
    refresh and insert then read it, once for all rules."""

    pk = models.CompositePrimaryKey("rule", "subject_type", "subject_id")
    rule = models.CharField(max_length=64)
    subject_type = models.CharField(max_length=32)
    subject_id = models.BigIntegerField()
    label = models.CharField(max_length=255)
    project_id = models.BigIntegerField(null=True)
    severity = models.CharField(max_length=16)
    message = models.TextField()

    class Meta:
        managed = False
        db_table = "alignment_scan_matches"

    def __str__(self) -> str:
        return f"{self.rule} {self.subject_type} {self.subject_id}: {self.label}"
