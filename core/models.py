"""Shared abstract models and choices, and the kernel's one table (RowCount)."""

from collections.abc import Collection
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Value
from django.db.models.functions import Lower


class Versioned(models.Model):
    """Who changed it last, and a version the services bump on every change, so an edit made
    from a stale copy can be detected and refused (ETag / If-Match, stale forms)."""

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


class TimeStamped(Versioned):
    """Created/updated timestamps, with who changed it last and its version."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Correctable(Versioned):
    """A record that is added and then only corrected (a KPI reading, a check-in): a version the
    services bump on each correction, who corrected it, when (null until the first
    correction of a row older than this)."""

    updated_at = models.DateTimeField(auto_now=True, null=True)

    class Meta:
        abstract = True


class StatusStamped(models.Model):
    """Who last changed the status, and when: set by the services (`core.services`) on every
    status change, so a flag can say who retired the strategy that broke a chain and when.
    Null for rows whose status was last set before this was recorded."""

    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    class Meta:
        abstract = True


class Lifecycle(models.TextChoices):
    """Draft, active, retired: the status of a business or CRM strategy (and the values a goal's
    page counts its strategies by, without importing the strategies app)."""

    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class UniqueTitleIgnoringCase:
    """A model whose title is unique ignoring case (within `title_scope`, e.g. one goal's
    business strategies), enforced in the database by a unique index on (scope, Lower(title))
    (`unique_title_constraint`). A duplicate is refused before the write by `full_clean()`,
    on the title, naming the row that already has it: the form and the API both say which.
    Comparing with Lower(title) in the query, as the index does, keeps the two in agreement."""

    title_scope: tuple[str, ...] = ()

    def duplicate_title_message(self, existing: Any) -> str:
        noun = self._meta.verbose_name  # type: ignore[attr-defined]
        return f"A {noun} named “{existing.title}” already exists."

    def existing_with_title(self) -> Any:
        title = getattr(self, "title", "")
        if not title:
            return None
        scope = {f"{name}_id": getattr(self, f"{name}_id") for name in self.title_scope}
        if None in scope.values():
            return None  # the scope field's own error says what is missing
        rows = type(self)._default_manager.filter(**scope)  # type: ignore[attr-defined]
        if self.pk is not None:  # type: ignore[attr-defined]
            rows = rows.exclude(pk=self.pk)  # type: ignore[attr-defined]
        return (
            rows.alias(lowered=Lower("title"))
            .filter(lowered=Lower(Value(title, output_field=models.CharField())))
            .only("pk", "title")
            .first()
        )

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        exclude = set(exclude or ())
        errors: dict[str, list[Any]] = {}
        if "title" not in exclude:
            existing = self.existing_with_title()
            if existing is not None:
                errors["title"] = [
                    ValidationError(self.duplicate_title_message(existing), code="unique")
                ]
                exclude.add("title")  # the index's own check would only repeat it
        try:
            super().validate_constraints(exclude=exclude)  # type: ignore[misc]
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)


def unique_title_constraint(name: str, *scope: str) -> models.UniqueConstraint:
    """The database's half of UniqueTitleIgnoringCase: one title per scope, ignoring case."""
    return models.UniqueConstraint(
        *(models.F(field) for field in scope),
        Lower("title"),
        name=name,
        violation_error_message="That title is already taken (ignoring case).",
    )


class RowCount(models.Model):
    """A change to the number of rows of a table whose rows are counted as they are written
    (core.counts): on PostgreSQL, a trigger adds one per statement that inserts or deletes
    rows; the table's number of rows is the sum of its changes."""

    table = models.CharField(max_length=63)
    delta = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["table", "delta"], name="row_count_table")]

    def __str__(self) -> str:
        return f"{self.table} {self.delta:+d}"
