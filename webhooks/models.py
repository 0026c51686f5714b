"""A webhook (an address admins subscribe to events) and its deliveries (one per event)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core import events


class Format(models.TextChoices):
    JSON = "json", "JSON"
    # Slack's and Teams' incoming webhooks show the `text` field; the other fields ride along.
    SLACK = "slack", "Slack / Teams (text)"


def webhook_event_choices() -> list[tuple[str, str]]:
    """The catalogue's events a webhook may subscribe to."""
    return [(key, t.label) for key, t in events.CATALOGUE.items() if t.webhook]


class Webhook(models.Model):
    name = models.CharField(max_length=100, help_text="What it is for, e.g. “#crm-alerts”.")
    url = models.URLField(max_length=500, help_text="Where events are POSTed (http or https).")
    # Kept as written: each delivery is signed with it (HMAC-SHA256 of the body).
    secret = models.CharField(max_length=128)
    events = models.JSONField(default=list, help_text="Event types (core.events) to send.")
    format = models.CharField(max_length=10, choices=Format.choices, default=Format.JSON)
    # Off by an admin: no deliveries are recorded for it.
    is_active = models.BooleanField(default=True)
    # Set when it failed WEBHOOK_PAUSE_AFTER_FAILURES times in a row: deliveries are recorded
    # but held until an admin resumes it.
    paused_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="webhooks"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def secret_hint(self) -> str:
        """The secret masked: enough to tell two apart, never enough to sign."""
        return f"…{self.secret[-4:]}" if self.secret else ""


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    # Refused for good: a 4xx answer, or an address webhooks may not reach.
    FAILED = "failed", "Failed"
    # Retried WEBHOOK_MAX_ATTEMPTS times without success.
    GIVEN_UP = "given_up", "Given up"


class Delivery(models.Model):
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=50)
    # The event's key (core.events.Event.key): one delivery per webhook and event.
    event_key = models.CharField(max_length=200)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the next try is due (the sweep queues again a pending delivery overdue by a sweep).
    next_attempt_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # A worker sending it holds it until then: two copies of the task never send it twice.
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "event_key"], name="webhooks_delivery_once_per_event"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhooks_delivery_due"),
            models.Index(fields=["webhook", "-created_at"], name="webhooks_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.webhook_id} ({self.status})"
