"""Shared abstract models and choices."""

from django.db import models


class TimeStamped(models.Model):
    """Adds created/updated timestamps."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Lifecycle(models.TextChoices):
    """Draft, active, retired: the status of a business or CRM strategy (and the values a goal's
    page counts its strategies by, without importing the strategies app)."""

    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"
