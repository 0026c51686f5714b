"""What the notifications app keeps: each event once, the in-app rows per person, the mail
deliveries per person and event (or per person and week for the digest), and each person's
choice of channel per event type."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core import events

# A person's channel for an event type (core.events.default_delivery when they chose none).
# "immediate": in-app and a mail at once; "in_app": in-app only; "digest": in-app and a line
# in the weekly digest; "off": nothing.
IMMEDIATE, IN_APP, DIGEST, OFF = "immediate", "in_app", "digest", "off"
CHANNEL_CHOICES = [
    (IMMEDIATE, "In-app and e-mail now"),
    (IN_APP, "In-app only"),
    (DIGEST, "In-app and weekly digest"),
    (OFF, "Off"),
]
# The weekly digest itself is a preference too ("digest" = send it, "off" = do not).
WEEKLY_DIGEST = "digest.weekly"


class EventRecord(models.Model):
    """One emitted event, recorded once (its key is unique), in the emitter's transaction."""

    key = models.CharField(max_length=255, unique=True)
    type = models.CharField(
        max_length=32, choices=[(k, t.label) for k, t in events.CATALOGUE.items()]
    )
    severity = models.CharField(max_length=16, default=events.INFO)
    subject_kind = models.CharField(max_length=32)
    subject_id = models.BigIntegerField()
    subject_title = models.CharField(max_length=255)
    path = models.CharField(max_length=255)
    summary = models.TextField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return self.summary


class Notification(models.Model):
    """An in-app notification: one per person and event."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.ForeignKey(EventRecord, on_delete=models.CASCADE, related_name="notifications")
    created_at = models.DateTimeField(db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "event"], name="notification_once_per_event")
        ]
        indexes = [
            # The list page, newest first, per person.
            models.Index(fields=["user", "-created_at", "-id"], name="notification_user_newest"),
            # The bell: a count of one person's unread rows reads this small index only.
            models.Index(
                fields=["user"], condition=Q(read_at__isnull=True), name="notification_unread"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.event_id}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"  # to send (again, after a failed attempt)
    SENDING = "sending", "Sending"  # a worker claimed it and is talking to the mail server
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # given up; `error` says why
    # A digest line waiting for (or carried by, see `digest`) the person's weekly digest.
    IN_DIGEST = "in_digest", "Included in digest"


class DeliveryKind(models.TextChoices):
    IMMEDIATE = "immediate", "Mail now"
    DIGEST_ITEM = "digest_item", "Line in the weekly digest"
    DIGEST = "digest", "Weekly digest"


class MailDelivery(models.Model):
    """One mail to one person: for an event (`immediate`), a line waiting for the digest
    (`digest_item`), or the weekly digest (`digest`, one per person and week). The unique
    constraints make a resent event or a second digest run create nothing; the state makes a
    retried or redelivered task send nothing twice."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mail_deliveries"
    )
    kind = models.CharField(max_length=16, choices=DeliveryKind.choices)
    event = models.ForeignKey(
        EventRecord, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    # The Monday of the digest's week.
    week = models.DateField(null=True, blank=True)
    # The digest that carried a digest line.
    digest = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="items"
    )
    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    to_address = models.CharField(max_length=254, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the next attempt is due; the sweep requeues pending mails well past it (lost task).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "event"],
                condition=Q(event__isnull=False),
                name="mail_once_per_event",
            ),
            models.UniqueConstraint(
                fields=["user", "week"],
                condition=Q(kind="digest"),
                name="digest_once_per_week",
            ),
            models.CheckConstraint(
                condition=Q(kind="digest", event__isnull=True, week__isnull=False)
                | (~Q(kind="digest") & Q(event__isnull=False, week__isnull=True)),
                name="mail_for_event_or_week",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="mail_to_sweep"),
            models.Index(fields=["user", "kind", "state"], name="mail_digest_lines"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.user_id} ({self.state})"


class Preference(models.Model):
    """A person's channel for one event type (or the weekly digest, WEEKLY_DIGEST)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    event_type = models.CharField(max_length=32)
    channel = models.CharField(max_length=16, choices=CHANNEL_CHOICES)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user", "event_type"]
        constraints = [
            models.UniqueConstraint(fields=["user", "event_type"], name="preference_once"),
            models.CheckConstraint(
                condition=Q(channel__in=[IMMEDIATE, IN_APP, DIGEST, OFF]),
                name="preference_channel_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.event_type}: {self.channel}"
