"""The change history's table: django-auditlog's log entry with the channel, the operation and
the pages each entry belongs to as indexed columns (core.audit fills them)."""

from typing import Any

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.db import models

from core import audit


class HistoryManager(LogEntryManager):
    def log_create(self, instance: Any, force_log: bool = False, **kwargs: Any) -> Any:
        for name, value in audit.entry_fields(instance).items():
            kwargs.setdefault(name, value)
        if kwargs.get("actor") is None and kwargs.get("action") != audit.DELETED:
            # No request or import says who: the service stamped the row it saves with the
            # actor it was given (a management command, the demo loader).
            kwargs["actor"] = getattr(instance, "updated_by", None)
        changes = kwargs.get("changes")
        if isinstance(changes, dict):
            # Only the row's own fields: auditlog lists reverse relations ("features") and the
            # id on a create, which say nothing.
            own = audit.tracked_fields(instance)
            kwargs["changes"] = {k: v for k, v in changes.items() if k in own}
        return super().log_create(instance, force_log, **kwargs)


class HistoryEntry(AbstractLogEntry):
    """One recorded change: auditlog's fields (content type and id of the object, action,
    `changes` as {field: [old, new]}, actor, timestamp, `serialized_data` for a restore) and:"""

    channel = models.CharField(max_length=10, default=audit.DEFAULT_CHANNEL, db_index=True)
    # Shared by the entries of one request, task or import: a delete's cascade.
    operation = models.CharField(max_length=32, blank=True, db_index=True)
    # The object pages whose History tab shows the entry ("project:12", "feature:40").
    page_key = models.CharField(max_length=40, blank=True)
    subpage_key = models.CharField(max_length=40, blank=True)

    objects = HistoryManager()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = "history entry"
        verbose_name_plural = "history entries"
        indexes = [
            models.Index(fields=["page_key", "-timestamp"], name="history_page"),
            models.Index(fields=["subpage_key", "-timestamp"], name="history_subpage"),
            models.Index(fields=["content_type", "object_id", "-timestamp"], name="history_object"),
            models.Index(fields=["actor", "-timestamp"], name="history_actor"),
        ]
