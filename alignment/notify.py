"""The events the engine and the chain emit (core.events), in the transactions that make them
happen (a scan's, in the transaction of its follow-up task); `notifications` (and `webhooks`)
record and deliver them.

- FLAG_OPENED: a scan's new and reopened flags, aggregated per project and severity — one
  event per project, severity and scan for its manager and sponsor, listing a few of the flags
  (critical ones reach people at once, warnings in the digest by default). A constant number
  of queries whatever the number of flags (`tell_opened`), in a task the scan queues when it
  commits (`tell_scan`), swept like the scans should it be lost.
- WAIVER_EXPIRING (daily): a waiver expiring within 7 days, once per waiver and grant.
- CHECK_IN_DUE (daily): an active project the `project.stalled` rule will flag in 5 days.
- PARENT_RETIRED: a goal, business or CRM strategy retired or deleted, for the managers and
  sponsors of the live projects below it, with what hangs on it (`alignment.impact`).
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.db.models import Count, F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.db.models.signals import pre_delete, pre_save
from django.urls import reverse
from django.utils import timezone

from core import events
from core.money import format_money
from goals.models import BusinessGoal
from projects.models import LIVE_PROJECT_STATUSES, CRMProject, ProjectStatus
from strategies.models import BusinessStrategy, CRMStrategy

from .models import Flag, FlagState, Scan, ScanState, Severity, SubjectType

log = logging.getLogger(__name__)

FLAGS_LISTED = 5  # per event; the event says how many more
BATCH = 1000
STALLED_RULE = "project.stalled"
CHECK_IN_NOTICE_DAYS = 5
WAIVER_NOTICE_DAYS = 7


def _batched(items: Iterator[events.Event]) -> int:
    """Emit in batches (the receivers write a few statements per batch); returns how many."""
    batch: list[events.Event] = []
    total = 0
    for item in items:
        batch.append(item)
        if len(batch) >= BATCH:
            events.emit_many(batch)
            total += len(batch)
            batch = []
    events.emit_many(batch)
    return total + len(batch)


def _people(*ids: int | None) -> tuple[int, ...]:
    return tuple(dict.fromkeys(pk for pk in ids if pk is not None))


# --- Flags opened by a scan -----------------------------------------------------------------


def opened_flags(opened_at: datetime.datetime) -> QuerySet[Flag]:
    """The flags a scan opened at `opened_at` (new, or reopened when their waiver expired) and
    still open."""
    return Flag.objects.filter(state=FlagState.OPEN, opened_at=opened_at)


def opened_rows(flags: QuerySet[Flag]) -> list[dict[str, Any]]:
    """For the flags given, per project and severity (critical, warning): the first few flags
    with the group's total. One query (a window over the flags)."""
    partition = [F("project_id"), F("severity")]
    rows: list[Any] = list(
        flags.filter(project__isnull=False, severity__in=[Severity.CRITICAL, Severity.WARNING])
        .annotate(
            position=Window(RowNumber(), partition_by=partition, order_by=F("pk").asc()),
            group_total=Window(Count("pk"), partition_by=partition),
        )
        .filter(position__lte=FLAGS_LISTED)
        .order_by("project_id", "severity", "pk")
        .values(
            "pk",
            "project_id",
            "project__title",
            "project__manager_id",
            "project__sponsor_id",
            "severity",
            "rule",
            "subject_label",
            "message",
            "group_total",
        )
    )
    return rows


def tell_opened(flags: QuerySet[Flag], opened_at: datetime.datetime) -> int:
    """Emit one FLAG_OPENED per project and severity of `flags` (those a scan opened at
    `opened_at`) for the project's manager and sponsor, in the caller's transaction. The event's
    key holds `opened_at`, so telling of the same opening twice records it once. Returns how
    many events."""
    groups: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for row in opened_rows(flags):
        groups[(row["project_id"], row["severity"])].append(row)

    # The project's path, reversed once: a first scan of a large portfolio names thousands.
    marker = "987654321987"
    path_of = reverse("projects:detail", args=[int(marker)])

    def each() -> Iterator[events.Event]:
        for (project_id, severity), listed in groups.items():
            first = listed[0]
            total = first["group_total"]
            title = first["project__title"]
            recipients = _people(first["project__manager_id"], first["project__sponsor_id"])
            if not recipients:
                continue
            noun = "flag" if total == 1 else "flags"
            yield events.Event(
                type=events.FLAG_OPENED,
                key=f"{events.FLAG_OPENED}:{project_id}:{severity}:{opened_at.isoformat()}",
                subject_kind="project",
                subject_id=project_id,
                subject_title=title,
                path=path_of.replace(marker, str(project_id), 1),
                summary=f"{total} {severity} {noun} opened on “{title}”",
                recipients=recipients,
                severity=events.CRITICAL if severity == Severity.CRITICAL else events.WARNING,
                data={
                    "count": total,
                    "more": max(total - len(listed), 0),
                    "flags": [
                        {
                            "id": row["pk"],
                            "rule": row["rule"],
                            "label": row["subject_label"],
                            "message": row["message"],
                        }
                        for row in listed
                    ],
                },
                occurred_at=opened_at,
            )

    return _batched(each())


def tell_scan(scan_id: int) -> int | None:
    """A scan's follow-up, after it committed: tell the managers and sponsors of the flags it
    opened that are still open, and mark the scan told, in one transaction. None when there is
    nothing to do: the scan is told already, is not finished, or another worker is telling it
    right now (its row is locked). Safe to run twice: the events' keys hold the scan's time."""
    with transaction.atomic():
        scan = (
            Scan.objects.select_for_update(skip_locked=True)
            .filter(
                pk=scan_id,
                state=ScanState.DONE,
                evaluated_at__isnull=False,
                told_at__isnull=True,
            )
            .only("pk", "evaluated_at")
            .first()
        )
        if scan is None or scan.evaluated_at is None:
            return None
        told = tell_opened(opened_flags(scan.evaluated_at), scan.evaluated_at)
        Scan.objects.filter(pk=scan.pk).update(told_at=timezone.now())
    return told


def queue_tell_scan(scan_id: int) -> None:
    """After a scan that opened flags commits: its follow-up task. A broker outage is logged,
    not raised; the sweep queues it again (`untold_scans`)."""
    from .tasks import tell_scan as task

    try:
        task.delay(scan_id)
    except Exception:
        log.exception("Could not queue telling of scan %s's flags; the sweep will", scan_id)


def untold_scans(older_than: datetime.datetime) -> list[int]:
    """The scans finished before `older_than` whose people were not told yet (their task was
    lost: a worker killed, the broker down at the time)."""
    return list(
        Scan.objects.filter(
            evaluated_at__isnull=False, told_at__isnull=True, finished_at__lt=older_than
        )
        .order_by("finished_at")
        .values_list("pk", flat=True)[:100]
    )


# --- Daily reminders ------------------------------------------------------------------------


def emit_waivers_expiring(*, now: datetime.datetime) -> int:
    """A WAIVER_EXPIRING per waiver expiring within 7 days (once per grant: the key holds when
    it was granted), for whoever granted it and the project's manager and sponsor."""
    rows = (
        Flag.objects.filter(
            state=FlagState.WAIVED,
            waiver_expires_at__gt=now,
            waiver_expires_at__lte=now + datetime.timedelta(days=WAIVER_NOTICE_DAYS),
        )
        .order_by("pk")
        .values(
            "pk",
            "waived_by_id",
            "waived_at",
            "waiver_expires_at",
            "waiver_reason",
            "subject_label",
            "message",
            "project_id",
            "project__manager_id",
            "project__sponsor_id",
        )
    )

    def each() -> Iterator[events.Event]:
        for row in rows.iterator(chunk_size=BATCH):
            recipients = _people(
                row["waived_by_id"], row["project__manager_id"], row["project__sponsor_id"]
            )
            if not recipients:
                continue
            granted = row["waived_at"].isoformat() if row["waived_at"] else ""
            yield events.Event(
                type=events.WAIVER_EXPIRING,
                key=f"{events.WAIVER_EXPIRING}:{row['pk']}:{granted}",
                subject_kind="flag",
                subject_id=row["pk"],
                subject_title=row["subject_label"],
                path=(
                    reverse("projects:detail", args=[row["project_id"]])
                    if row["project_id"]
                    else reverse("alignment:flags")
                ),
                summary=(
                    f"Waiver on “{row['subject_label']}” expires "
                    f"{timezone.localtime(row['waiver_expires_at']):%d %b %Y}"
                ),
                recipients=recipients,
                severity=events.WARNING,
                data={
                    "message": row["message"],
                    "reason": row["waiver_reason"],
                    "expires_at": str(row["waiver_expires_at"]),
                },
                occurred_at=now,
            )

    return _batched(each())


def check_ins_due(today: datetime.date) -> QuerySet[CRMProject]:
    """Active projects the `project.stalled` rule (with its threshold setting) does not flag
    today but will flag in 5 days: their last activity is exactly the day that makes them
    stalled then. The rule's own query, so the two agree."""
    from .engine import effective_settings
    from .rules import RULES, RuleContext

    setting = effective_settings(create_missing=False)[STALLED_RULE]
    if not setting.enabled:
        return CRMProject.objects.none()
    days = setting.threshold if setting.threshold is not None else 30
    later = today + datetime.timedelta(days=CHECK_IN_NOTICE_DAYS)
    stalled_then = RULES[STALLED_RULE].findings(RuleContext(today=later, threshold=days))
    queryset = stalled_then[SubjectType.PROJECT] if isinstance(stalled_then, dict) else stalled_then
    # Stalled on `later` means last activity before later - days; first stalled that day:
    return queryset.filter(last_activity=later - datetime.timedelta(days=days + 1))


def emit_check_ins_due(*, today: datetime.date) -> int:
    due_on = today + datetime.timedelta(days=CHECK_IN_NOTICE_DAYS)
    rows = check_ins_due(today).order_by("pk").values("pk", "title", "manager_id")

    def each() -> Iterator[events.Event]:
        for row in rows.iterator(chunk_size=BATCH):
            if row["manager_id"] is None:
                continue
            yield events.Event(
                type=events.CHECK_IN_DUE,
                key=f"{events.CHECK_IN_DUE}:{row['pk']}:{due_on.isoformat()}",
                subject_kind="project",
                subject_id=row["pk"],
                subject_title=row["title"],
                path=reverse("projects:detail", args=[row["pk"]]),
                summary=(
                    f"“{row['title']}” will be flagged stalled on {due_on:%d %b %Y} "
                    "unless it gets a check-in"
                ),
                recipients=(row["manager_id"],),
                severity=events.WARNING,
                data={"stalled_on": due_on.isoformat()},
            )

    return _batched(each())


# --- A parent retired or deleted --------------------------------------------------------------

KINDS: dict[type, tuple[str, str]] = {
    BusinessGoal: (SubjectType.GOAL, "goal"),
    BusinessStrategy: (SubjectType.BUSINESS_STRATEGY, "business strategy"),
    CRMStrategy: (SubjectType.CRM_STRATEGY, "CRM strategy"),
}


def parent_retired(instance: Any, *, deleted: bool) -> int:
    """Emit a PARENT_RETIRED per live project below `instance` (read before the change: the
    links still stand), for its manager and sponsor, with what hangs on the parent."""
    from .impact import budget_of, reach_of

    kind, noun = KINDS[type(instance)]
    reach = reach_of(kind, instance.pk)
    projects = list(
        CRMProject.objects.filter(
            pk__in=reach.ids[SubjectType.PROJECT], status__in=LIVE_PROJECT_STATUSES
        )
        .order_by("pk")
        .values("pk", "title", "manager_id", "sponsor_id", "status")
    )
    if not projects:
        return 0
    ids = [p["pk"] for p in projects]
    budget = budget_of(ids)
    features = len(reach.ids[SubjectType.FEATURE])
    verb = "deleted" if deleted else "retired"
    impact = (
        f"{len(ids)} live project{'s' if len(ids) != 1 else ''} and {features} "
        f"feature{'s' if features != 1 else ''} ({format_money(budget)} of budget) trace "
        f"through it; they need another {noun} in their chain or they will be flagged."
    )
    now = timezone.now()

    def each() -> Iterator[events.Event]:
        for project in projects:
            recipients = _people(project["manager_id"], project["sponsor_id"])
            if not recipients:
                continue
            yield events.Event(
                type=events.PARENT_RETIRED,
                key=f"{events.PARENT_RETIRED}:{kind}:{instance.pk}:{project['pk']}:{now.isoformat()}",
                subject_kind="project",
                subject_id=project["pk"],
                subject_title=project["title"],
                path=reverse("projects:detail", args=[project["pk"]]),
                summary=(f"The {noun} “{instance.title}” above “{project['title']}” was {verb}"),
                recipients=recipients,
                severity=(
                    events.CRITICAL
                    if project["status"] in (ProjectStatus.ACTIVE, ProjectStatus.APPROVED)
                    else events.WARNING
                ),
                data={
                    "parent_kind": str(kind),
                    "parent_id": instance.pk,
                    "parent_title": instance.title,
                    "deleted": deleted,
                    "projects": len(ids),
                    "features": features,
                    "budget": str(budget),
                    "impact": impact,
                },
                occurred_at=now,
            )

    return _batched(each())


def _on_parent_saving(sender: Any, instance: Any, **kwargs: Any) -> None:
    if kwargs.get("raw") or instance._state.adding or instance.pk is None:
        return
    if instance.status != "retired":
        return
    before = type(instance).objects.filter(pk=instance.pk).values_list("status", flat=True).first()
    if before is not None and before != "retired":
        parent_retired(instance, deleted=False)


def _on_parent_deleting(sender: Any, instance: Any, **kwargs: Any) -> None:
    if getattr(instance, "status", None) != "retired":
        parent_retired(instance, deleted=True)


for model in KINDS:
    pre_save.connect(_on_parent_saving, sender=model, dispatch_uid=f"notify-retired-{model}")
    pre_delete.connect(_on_parent_deleting, sender=model, dispatch_uid=f"notify-deleted-{model}")
