"""Shared abstract models and choices."""

from django.conf import settings
from django.db import models


class TimeStamped(models.Model):
    """Created/updated timestamps, who changed it last, and a version the services bump on
    every change, so an edit made from a stale copy can be detected and refused."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    version = models.PositiveIntegerField(
        default=1, editable=False, help_text="Bumped by every change (ETag / If-Match)."
    )

    class Meta:
        abstract = True


class Lifecycle(models.TextChoices):
    """Draft, active, retired: the status of a business or CRM strategy (and the values a goal's
    page counts its strategies by, without importing the strategies app)."""

    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"
