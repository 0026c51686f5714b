"""Change history: who changed what, when, through which channel.

django-auditlog records every save and delete of the registered models (settings
`AUDITLOG_INCLUDE_TRACKING_MODELS`) as one row of `crm_alignment.HistoryEntry`, whose `changes`
is `{field: [old, new]}`. This module adds what the library does not know:

- the **channel** and the **actor** of a write, from a context (`recording`) that the request
  middleware opens for pages, the API and the admin, the Celery tasks for the scan, and an
  import opens around its writes:

      from core import audit
      with audit.recording(channel="import", actor=user):
          ...  # every service call in here is recorded as the import, by `user`

- which **page** an entry belongs to (`page_key`, `subpage_key`): a project's history holds its
  links, features, feature links, metrics, phases and check-ins as well; a feature's, its
  links; a goal's, its KPIs and their readings; a CRM strategy's, what it serves. Each app says
  so for its models with `register_pages` (core imports no app);
- the entries for writes that send no signal (bulk_create, bulk_update, QuerySet.update):
  `log_rows` writes them in one statement.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model

CHANNELS = ("page", "api", "admin", "import", "scan", "system")
# Outside any request, task or import (a management command, a shell): "system".
DEFAULT_CHANNEL = "system"

CREATED, UPDATED, DELETED = 0, 1, 2  # auditlog's LogEntry.Action values
ACTION_NAMES = {CREATED: "created", UPDATED: "updated", DELETED: "deleted"}


@dataclass
class Recording:
    channel: str
    actor: Any = None
    request: Any = None
    operation: str = field(default_factory=lambda: uuid.uuid4().hex)
    note: dict[str, Any] | None = None

    def user(self) -> Any:
        """The acting user, or None. A request's user is read when an entry is written: DRF
        authenticates a token inside the view, after the middleware opened the recording."""
        who = self.actor
        if who is None and self.request is not None:
            who = getattr(self.request, "user", None)
        return who if getattr(who, "is_authenticated", False) else None


_current: ContextVar[Recording | None] = ContextVar("crm_audit_recording", default=None)


@contextmanager
def recording(*, channel: str, actor: Any = None, request: Any = None) -> Iterator[Recording]:
    """Record every write made inside as made through `channel` by `actor` (or the request's
    user). One operation id is shared by the entries of the writes inside, so a delete's
    cascade (a project's features and links) can be found and restored together."""
    if channel not in CHANNELS:
        raise ValueError(f"Unknown channel {channel!r}; one of {', '.join(CHANNELS)}.")
    token = _current.set(Recording(channel=channel, actor=actor, request=request))
    try:
        yield _current.get()  # type: ignore[misc]
    finally:
        _current.reset(token)


def current() -> Recording:
    """The open recording; outside any, the context's own "system" one (a management command,
    a shell), made once so the entries of one delete's cascade share its operation."""
    rec = _current.get()
    if rec is None:
        rec = Recording(channel=DEFAULT_CHANNEL)
        _current.set(rec)
    return rec


def channel_for_path(path: str) -> str:
    """A request's channel by its URL: /api/ → api, /admin/ → admin, anything else → page."""
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return "page"


# --- which pages an entry belongs to ---------------------------------------------------------

PageKeys = tuple[str, str]
_pages: dict[type[Model], Callable[[Any], PageKeys]] = {}
_kinds: dict[type[Model], str] = {}


def page_key(kind: str, pk: Any) -> str:
    return f"{kind}:{pk}" if pk is not None else ""


def register_pages(
    model: type[Model], pages: Callable[[Any], PageKeys], *, kind: str | None = None
) -> None:
    """`pages(instance)` → (the page whose history shows the entry, a second page or "").
    `kind`: the model has a history of its own under that name ("project"), holding the
    entries whose page or second page is it: its own and its parts'."""
    _pages[model] = pages
    if kind is not None:
        _kinds[model] = kind


def pages_of(instance: Any) -> PageKeys:
    pages = _pages.get(type(instance))
    return pages(instance) if pages is not None else ("", "")


def history_of(instance: Model) -> Any:
    """The entries of an object's history, newest first: for a model with a page of its own,
    its entries and its parts' (a project's features, links, metrics …); otherwise its own."""
    from auditlog import get_logentry_model
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import Q

    entries = get_logentry_model().objects.select_related("actor")
    kind = _kinds.get(type(instance))
    if kind is not None:
        key = page_key(kind, instance.pk)
        entries = entries.filter(Q(page_key=key) | Q(subpage_key=key))
    else:
        entries = entries.filter(
            content_type=ContentType.objects.get_for_model(instance), object_id=instance.pk
        )
    return entries.order_by("-timestamp", "-id")


def entry_fields(instance: Any) -> dict[str, Any]:
    """The fields this module adds to an entry for a write of `instance` now."""
    rec = current()
    page, subpage = pages_of(instance)
    user = rec.user()
    return {
        "channel": rec.channel,
        "operation": rec.operation,
        "actor": user,
        "page_key": page,
        "subpage_key": subpage,
        "additional_data": rec.note,
    }


# --- entries for writes that send no signal ---------------------------------------------------


def plain(value: Any) -> Any:
    """A value as the JSON in `changes` holds it (the shape auditlog's JSON changes use)."""
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return value


def tracked_fields(instance: Model) -> set[str]:
    """The fields whose changes an entry lists: the row's own, without its id."""
    return {f.name for f in instance._meta.concrete_fields if not f.primary_key} - NOT_TRACKED


# Bookkeeping every service write bumps; the entry says who and when already. One list for
# auditlog and for the entries written here (settings.AUDIT_NOT_TRACKED).
NOT_TRACKED = frozenset(settings.AUDIT_NOT_TRACKED)


def snapshot(instance: Model) -> dict[str, Any]:
    """The row's fields as auditlog's `serialized_data` stores them (for a restore)."""
    fields = {f.name: plain(getattr(instance, f.attname)) for f in instance._meta.concrete_fields}
    fields.pop(instance._meta.pk.name, None)
    return {"model": instance._meta.label_lower, "pk": instance.pk, "fields": fields}


def log_rows(
    rows: Iterable[tuple[Model, int, Mapping[str, tuple[Any, Any]]]],
    *,
    serialize: bool = False,
    related: Sequence[str] = (),
    batch_size: int = 2000,
) -> int:
    """Write one entry per (instance, action, {field: (old, new)}) in one statement (a batch
    per `batch_size` rows): the history of a bulk_create, bulk_update or QuerySet.update, which
    send no signal. `related`: the relations the instances' names or pages read (a KPI
    reading's KPI, a feature link's feature), fetched once for all rather than once per row."""
    from auditlog import get_logentry_model
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import prefetch_related_objects

    rows = list(rows)
    if related and rows:
        prefetch_related_objects([instance for instance, _, _ in rows], *related)
    entry_model = get_logentry_model()
    entries = []
    for instance, action, changes in rows:
        entries.append(
            entry_model(
                content_type=ContentType.objects.get_for_model(instance),
                object_pk=str(instance.pk),
                object_id=instance.pk,
                object_repr=str(instance)[:2000],
                action=action,
                changes={name: [plain(old), plain(new)] for name, (old, new) in changes.items()},
                serialized_data=snapshot(instance) if serialize else None,
                **entry_fields(instance),
            )
        )
    entry_model.objects.bulk_create(entries, batch_size=batch_size)
    return len(entries)


def action_name(action: int) -> str:
    return ACTION_NAMES.get(action, "updated")


def kind_of(model: type[Model]) -> str:
    """An object's kind in the history's answers: its page's name, or its model's."""
    return _kinds.get(model) or str(model._meta.model_name)


def deletion(model: type[Model], pk: Any) -> Any:
    """The newest entry recording the deletion of `model` `pk` (None: never deleted, or the id
    is not a number)."""
    from auditlog import get_logentry_model
    from django.contrib.contenttypes.models import ContentType

    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return (
        get_logentry_model()
        .objects.filter(
            content_type=ContentType.objects.get_for_model(model), object_id=pk, action=DELETED
        )
        .order_by("-timestamp", "-id")
        .first()
    )


def deleted_with(entry: Any, model: type[Model]) -> list[Any]:
    """The rows of `model` deleted by the same operation (request, task, import) as `entry`:
    the cascade of a deleted project (its features, links, …), oldest first."""
    from auditlog import get_logentry_model
    from django.contrib.contenttypes.models import ContentType

    if not entry.operation:
        return []
    return list(
        get_logentry_model()
        .objects.filter(
            operation=entry.operation,
            action=DELETED,
            content_type=ContentType.objects.get_for_model(model),
        )
        .exclude(serialized_data=None)
        .order_by("id")
    )


def rebuild(entry: Any) -> Model:
    """The row an entry's `serialized_data` describes, unsaved, with its old id."""
    from django.core import serializers

    data = entry.serialized_data
    (obj,) = serializers.deserialize("python", [data], ignorenonexistent=True)
    return obj.object  # type: ignore[no-any-return]


@contextmanager
def restoring(entry: Any) -> Iterator[None]:
    """Inside, every entry written says it restores what `entry` recorded as deleted."""
    rec = current()
    token = _current.set(
        Recording(
            channel=rec.channel,
            actor=rec.actor,
            request=rec.request,
            operation=rec.operation,
            note={"restored_from": entry.pk},
        )
    )
    try:
        yield
    finally:
        _current.reset(token)


def changes_of(entry: Any) -> dict[str, list[Any]]:
    """An entry's {field: [old, new]} (auditlog keeps it as JSON; an m2m change, which this
    project does not record that way, would be skipped)."""
    changes = entry.changes if isinstance(entry.changes, dict) else {}
    return {
        name: list(pair)
        for name, pair in changes.items()
        if isinstance(pair, list | tuple) and len(pair) == 2
    }


# --- entries in words ------------------------------------------------------------------------


@dataclass
class Described:
    """An entry as a page shows it."""

    entry: Any
    kind: str
    action: str
    who: str
    channel: str
    changes: list[tuple[str, str, str]]  # (field label, old, new) in words
    restored_from: int | None


def _words(field_obj: Any, value: Any, names: Mapping[tuple[Any, Any], str]) -> str:
    if value is None or value == "":
        return "—"
    if field_obj is None:
        return str(value)
    if field_obj.is_relation and field_obj.related_model is not None:
        return names.get((field_obj.related_model, value), f"#{value} (deleted)")
    if field_obj.choices:
        return str(dict(field_obj.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def describe(entries: Iterable[Any]) -> list[Described]:
    """The entries of a page in words: people and objects by name, choices by label. One
    query per kind of object the page's changes refer to (people, goals, …), whatever the
    number of entries."""
    entries = list(entries)
    wanted: dict[Any, set[Any]] = {}
    fields: dict[tuple[Any, str], Any] = {}
    for entry in entries:
        model = entry.content_type.model_class()
        for name, (old, new) in changes_of(entry).items():
            try:
                field_obj = model._meta.get_field(name) if model else None
            except FieldDoesNotExist:  # a field since removed: shown as stored
                field_obj = None
            fields[(model, name)] = field_obj
            if field_obj is not None and field_obj.is_relation and field_obj.related_model:
                for value in (old, new):
                    if value is not None:
                        wanted.setdefault(field_obj.related_model, set()).add(value)
    names: dict[tuple[Any, Any], str] = {}
    for related, ids in wanted.items():
        clean = {int(i) for i in ids if str(i).isdigit()}
        for obj in related._base_manager.filter(pk__in=clean):
            label = obj.get_full_name() if hasattr(obj, "get_full_name") else ""
            names[(related, obj.pk)] = label or str(obj)
    described = []
    for entry in entries:
        model = entry.content_type.model_class()
        changes = [
            (
                str(getattr(fields.get((model, name)), "verbose_name", name)),
                _words(fields.get((model, name)), old, names),
                _words(fields.get((model, name)), new, names),
            )
            for name, (old, new) in changes_of(entry).items()
        ]
        actor = entry.actor if entry.actor_id else None
        described.append(
            Described(
                entry=entry,
                kind=str(model._meta.verbose_name) if model else entry.content_type.model,
                action=action_name(entry.action),
                who=(actor.get_full_name() or actor.get_username()) if actor else "—",
                channel=entry.channel,
                changes=changes,
                restored_from=(entry.additional_data or {}).get("restored_from"),
            )
        )
    return described
