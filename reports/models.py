"""Board-pack jobs (a PDF made by a worker for a large portfolio), the monthly mail's opt-in,
and its delivery records (one per person and month: nothing is mailed twice)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from onboarding.models import UNFINISHED_JOB_STATES, JobState

__all__ = [
    "UNFINISHED_JOB_STATES",
    "BoardPackDelivery",
    "BoardPackSubscription",
    "DeliveryState",
    "JobState",
    "ReportJob",
]


class ReportJob(models.Model):
    """One board pack asked for by one person, made by a worker: its state, progress (the pack's
    sections done of total) and, once done, the PDF itself, which only its owner downloads.
    `failure` says why a job failed (a rendering error, its worker lost, the queue down)."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    # The cover's scope in words ("Whole portfolio: 12 live projects"), once made.
    scope = models.CharField(max_length=255, blank=True)
    filename = models.CharField(max_length=100, blank=True)
    pdf = models.BinaryField(editable=False, default=b"")
    size = models.PositiveBigIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True)
    task_id = models.CharField(max_length=255, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_by", "-created_at", "-id"], name="reportjob_mine"),
            models.Index(
                fields=["state"],
                condition=Q(state__in=["queued", "running"]),
                name="reportjob_open",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=JobState.values), name="reportjob_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Board pack {self.pk} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED)

    @property
    def percent(self) -> int:
        if self.state == JobState.DONE:
            return 100
        if not self.progress_total:
            return 0
        return min(100, self.progress_done * 100 // self.progress_total)


class BoardPackSubscription(models.Model):
    """A person's choice to get the board pack by mail each month (executives and sponsors).
    Changed by its person on the board-report page, or by the unsubscribe link of a mail."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="board_pack_subscription"
    )
    monthly = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["user"], condition=Q(monthly=True), name="boardpack_subscribed"),
        ]

    def __str__(self) -> str:
        return f"Board pack mail for user {self.user_id}: {'on' if self.monthly else 'off'}"


class DeliveryState(models.TextChoices):
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class BoardPackDelivery(models.Model):
    """The monthly board pack for one person and month: claimed before it is sent, so a rerun
    of the beat job (or two workers) never mails it twice; a failed one says why and is tried
    again by the next run in the same month."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="board_pack_deliveries"
    )
    # The first day of the month the pack is for.
    month = models.DateField()
    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.SENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-month", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "month"], name="boardpack_once_per_month"),
            models.CheckConstraint(
                condition=Q(state__in=DeliveryState.values), name="boardpack_delivery_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Board pack of {self.month:%Y-%m} for user {self.user_id} ({self.state})"
