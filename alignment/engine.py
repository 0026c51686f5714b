"""Runs the rule catalogue and keeps the flags table true to it.

Per rule and subject type a scan issues the same four statements whatever the portfolio size:

1. resolve  — unresolved flags whose subject no longer matches (NOT EXISTS) → resolved
2. reopen   — waived flags past their expiry (the condition still holds after step 1) → open
3. refresh  — the remaining unresolved flags: last_seen, severity, message, label
4. insert   — INSERT … SELECT the matching subjects that have no unresolved flag (NOT EXISTS)

Acknowledged and waived decisions are never touched while the condition holds. All of a
scan's flag writes happen in one transaction under the scan lock (`alignment.locks`), so a
worker killed half-way leaves the previous, consistent state and a second scan changes
nothing but last_seen.

A scan's `Scope` says which subjects it covers: everything (full scan), some projects (the
live re-check after an edit), or a project-id range (one chunk of a split full scan).
Portfolio-wide rules (goals, strategies, managers, departments) are cheap aggregates over small
tables; re-checks evaluate them whole, chunks leave them to the scan's final step.
"""

from __future__ import annotations

import datetime
import itertools
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import (
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from . import locks
from .models import (
    SCAN_SKIPPED_PREFIX,
    UNRESOLVED_STATES,
    Flag,
    FlagState,
    RuleSetting,
    Scan,
    ScanChunk,
    ScanKind,
    ScanState,
    Snapshot,
)
from .rules import RULES, SUBJECTS, Rule, RuleContext, SubjectKind, subject_label_expression

log = logging.getLogger(__name__)

# A "running" scan older than this lost its worker; the next full scan marks it failed.
STALE_SCAN_AFTER = datetime.timedelta(hours=1)
UNBOUNDED = 2**62


@dataclass(frozen=True)
class Scope:
    """Which subjects a scan covers. The default covers the whole portfolio."""

    project_ids: tuple[int, ...] | None = None  # a re-check of these projects
    project_range: tuple[int, int] | None = None  # a chunk: lo <= project id < hi
    portfolio_rules: bool = True  # evaluate rules about goals, strategies, managers, departments
    project_rules: bool = True  # evaluate rules about projects and features

    @property
    def is_full(self) -> bool:
        return (
            self.project_ids is None
            and self.project_range is None
            and self.portfolio_rules
            and self.project_rules
        )

    def covers(self, kind: SubjectKind) -> bool:
        return self.project_rules if kind.project_field else self.portfolio_rules

    def subject_q(self, kind: SubjectKind) -> Q:
        if kind.project_field is None:
            return Q()
        if self.project_ids is not None:
            return Q(**{f"{kind.project_field}__in": self.project_ids})
        if self.project_range is not None:
            lo, hi = self.project_range
            return Q(**{f"{kind.project_field}__gte": lo, f"{kind.project_field}__lt": hi})
        return Q()

    def flag_q(self, kind: SubjectKind) -> Q:
        if kind.project_field is None:
            return Q()
        # A deleted project leaves its (and its features') flags with project = NULL; the
        # re-check queued by that delete resolves them, as does chunk 0 of a split scan.
        if self.project_ids is not None:
            return Q(project_id__in=self.project_ids) | Q(project_id__isnull=True)
        if self.project_range is not None:
            lo, hi = self.project_range
            orphans = Q(project_id__isnull=True) if lo <= 0 else Q(pk__in=[])
            return Q(project_id__gte=lo, project_id__lt=hi) | orphans
        return Q()


@dataclass
class RuleOutcome:
    opened: int = 0
    resolved: int = 0


@dataclass
class Outcome:
    """What one evaluation changed, per rule."""

    by_rule: dict[str, RuleOutcome] = field(default_factory=dict)

    @property
    def opened(self) -> int:
        return sum(r.opened for r in self.by_rule.values())

    @property
    def resolved(self) -> int:
        return sum(r.resolved for r in self.by_rule.values())


@dataclass(frozen=True)
class EffectiveSetting:
    enabled: bool
    severity: str
    threshold: int | None
    blocks_approval: bool = False


def _default_setting(rule: Rule) -> RuleSetting:
    return RuleSetting(
        code=rule.code,
        enabled=True,
        severity=rule.default_severity,
        threshold=rule.threshold_default,
        blocks_approval=rule.blocks_approval,
    )


def effective_settings(*, create_missing: bool = True) -> dict[str, EffectiveSetting]:
    """Each rule's settings: the admin's RuleSetting row, or the rule's defaults where there is
    none (the row is then created, unless `create_missing` is off: a page only reads). One
    query when nothing is missing."""
    rows = {s.code: s for s in RuleSetting.objects.all()}
    missing = [_default_setting(r) for r in RULES.values() if r.code not in rows]
    if missing and create_missing:
        # ignore_conflicts: a concurrent scan may be creating the same rows.
        RuleSetting.objects.bulk_create(missing, ignore_conflicts=True)
    rows.update({s.code: s for s in missing})
    result = {}
    for code, r in RULES.items():
        row = rows[code]
        threshold = row.threshold if row.threshold is not None else r.threshold_default
        result[code] = EffectiveSetting(
            row.enabled,
            row.severity or r.default_severity,
            threshold,
            # Only rules about a project or its features are evaluated for one project.
            row.blocks_approval and r.project_scoped,
        )
    return result


def _datetime_value(value: datetime.datetime) -> Any:
    expression = Value(value, output_field=DateTimeField())
    # PostgreSQL infers text for a bare literal in INSERT … SELECT; say it is a timestamp.
    return Cast(expression, DateTimeField()) if connection.vendor == "postgresql" else expression


def _insert_new_flags(
    rule: Rule,
    subject_type: str,
    kind: SubjectKind,
    findings: QuerySet[Any],
    setting: EffectiveSetting,
    now: datetime.datetime,
) -> int:
    """INSERT … SELECT one open flag per matching subject without an unresolved flag."""
    unflagged = findings.filter(
        ~Exists(
            Flag.objects.filter(
                rule=rule.code,
                subject_type=subject_type,
                subject_id=OuterRef("pk"),
                state__in=UNRESOLVED_STATES,
            )
        )
    )
    columns: dict[str, Any] = {
        "rule": Value(rule.code),
        "severity": Value(setting.severity),
        "subject_type": Value(str(subject_type)),
        "subject_id": F("pk"),
        "subject_label": subject_label_expression(subject_type),
        "message": Value(rule.message(setting.threshold)),
        "state": Value(FlagState.OPEN.value),
        "first_seen": _datetime_value(now),
        "last_seen": _datetime_value(now),
        "waiver_reason": Value(""),
    }
    if kind.project is not None:
        columns["project_id"] = kind.project()
    # Aliased annotations only, so the SELECT list has exactly these columns in this order.
    aliases = {f"flag_col_{i}": expr for i, expr in enumerate(columns.values())}
    select = unflagged.order_by().annotate(**aliases).values(*aliases)
    try:
        sql, params = select.query.get_compiler(using=select.db).as_sql()
    except EmptyResultSet:  # e.g. a re-check of no projects: nothing can match
        return 0
    quote = connection.ops.quote_name
    db_columns = {f.name: str(f.column) for f in Flag._meta.concrete_fields}
    db_columns["project_id"] = db_columns["project"]
    target = ", ".join(quote(db_columns[name]) for name in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(Flag._meta.db_table)} ({target}) {sql}", params)
        return max(cursor.rowcount, 0)


def _refresh(
    rule: Rule,
    subject_type: str,
    flags: QuerySet[Flag],
    matching: QuerySet[Any],
    setting: EffectiveSetting,
    now: datetime.datetime,
) -> None:
    """Step 3: bring the unresolved flags' last_seen, severity, message and label up to date."""
    labels = matching.annotate(flag_label=subject_label_expression(subject_type))
    label = Subquery(labels.values("flag_label")[:1])
    flags.update(
        last_seen=now,
        severity=setting.severity,
        message=rule.message(setting.threshold),
        # Under READ COMMITTED each statement sees the latest commits: a subject fixed or
        # deleted since step 1 no longer matches here. Keep its old label (its flag resolves on
        # the re-check that edit queued) rather than write NULL into a NOT NULL column.
        subject_label=Coalesce(label, F("subject_label")),
    )


def evaluate(scope: Scope, *, now: datetime.datetime | None = None) -> Outcome:
    """Bring the flags in `scope` in line with the rules. Call inside a transaction, locked."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    settings = effective_settings()
    outcome = Outcome()
    for code, rule in RULES.items():
        setting = settings[code]
        result = outcome.by_rule.setdefault(code, RuleOutcome())
        ctx = RuleContext(today=today, threshold=setting.threshold)
        findings_by_type = rule.findings(ctx) if setting.enabled else {}
        for subject_type in rule.subject_types:
            kind = SUBJECTS[subject_type]
            if not scope.covers(kind):
                continue
            flags = Flag.objects.filter(
                scope.flag_q(kind),
                rule=code,
                subject_type=subject_type,
                state__in=UNRESOLVED_STATES,
            )
            if not setting.enabled:
                # A rule switched off resolves its flags; they reopen if it is switched on.
                result.resolved += flags.update(state=FlagState.RESOLVED, resolved_at=now)
                continue
            findings = findings_by_type[subject_type].filter(scope.subject_q(kind))
            matching = findings.filter(pk=OuterRef("subject_id"))
            result.resolved += flags.filter(~Exists(matching)).update(
                state=FlagState.RESOLVED, resolved_at=now
            )
            # What is left unresolved still holds. An expired waiver reopens.
            result.opened += flags.filter(
                state=FlagState.WAIVED, waiver_expires_at__lte=now
            ).update(state=FlagState.OPEN)
            _refresh(rule, subject_type, flags, matching, setting, now)
            result.opened += _insert_new_flags(rule, subject_type, kind, findings, setting, now)
    return outcome


def _open_counts_by_rule() -> dict[str, int]:
    from .selectors import open_flag_counts

    return open_flag_counts()[0]


def _take_snapshot(scan: Scan, now: datetime.datetime) -> Snapshot:
    from .selectors import open_flag_counts, portfolio_figures

    figures = portfolio_figures()
    by_rule, by_severity = open_flag_counts()
    return Snapshot.objects.create(
        scan=scan,
        taken_at=now,
        projects_total=figures["projects_total"],
        projects_traced=figures["projects_traced"],
        features_total=figures["features_total"],
        features_traced=figures["features_traced"],
        budget_total=figures["budget_total"],
        budget_traced=figures["budget_traced"],
        open_by_rule=by_rule,
        open_by_severity=by_severity,
    )


def _claim(scan_id: int | None, kind: str, requested_by: Any = None) -> Scan | None:
    """Mark the scan running (creating it when there is no id). None if it already finished:
    a redelivered task message must not run a finished scan again."""
    now = timezone.now()
    if scan_id is None:
        return Scan.objects.create(
            kind=kind, state=ScanState.RUNNING, started_at=now, requested_by=requested_by
        )
    claimed = Scan.objects.filter(
        pk=scan_id, state__in=[ScanState.QUEUED, ScanState.RUNNING]
    ).update(state=ScanState.RUNNING, started_at=now, error="")
    if not claimed:
        return None
    return Scan.objects.get(pk=scan_id)


def _fail(scan: Scan, message: str) -> None:
    # Only an unfinished scan: a late error (a second failing chunk, a duplicate message) must
    # not overwrite a finished scan's result or the first failure's reason.
    Scan.objects.filter(pk=scan.pk, state__in=[ScanState.QUEUED, ScanState.RUNNING]).update(
        state=ScanState.FAILED, finished_at=timezone.now(), error=message[:2000]
    )
    scan.refresh_from_db()


@contextmanager
def _failure_recorded(scan: Scan) -> Iterator[None]:
    """Around a scan's lock and transaction: record an exception as the scan's failure (after
    the rollback, so the record stays), then let it propagate."""
    try:
        yield
    except locks.ScanBusy as busy:
        log.warning("Scan %s skipped: %s", scan.pk, busy)
        _fail(scan, f"{SCAN_SKIPPED_PREFIX}{busy}")
        raise
    except Exception as exc:
        log.exception("Scan %s failed", scan.pk)
        _fail(scan, f"{type(exc).__name__}: {exc}")
        raise


def _per_rule(outcome: Outcome) -> dict[str, dict[str, int]]:
    return {
        code: {"opened": result.opened, "resolved": result.resolved}
        for code, result in outcome.by_rule.items()
    }


def _finish(
    scan: Scan,
    outcome: Outcome,
    now: datetime.datetime,
    *,
    snapshot: bool,
    earlier: list[dict[str, dict[str, int]]] | None = None,
) -> None:
    """Record the scan's counts (plus those of its chunks, if split) and mark it done."""
    totals: dict[str, dict[str, int]] = {}
    for part in [*(earlier or []), _per_rule(outcome)]:
        for code, counts in part.items():
            row = totals.setdefault(code, {"opened": 0, "resolved": 0})
            row["opened"] += counts.get("opened", 0)
            row["resolved"] += counts.get("resolved", 0)
    open_by_rule = _open_counts_by_rule()
    per_rule = {
        code: {"open": open_by_rule.get(code, 0), **totals.get(code, {"opened": 0, "resolved": 0})}
        for code in RULES
    }
    if snapshot:
        _take_snapshot(scan, now)
    Scan.objects.filter(pk=scan.pk).update(
        state=ScanState.DONE,
        finished_at=timezone.now(),
        opened=sum(row["opened"] for row in totals.values()),
        resolved=sum(row["resolved"] for row in totals.values()),
        per_rule=per_rule,
    )


def _claim_finish(scan: Scan) -> bool:
    """Compare-and-swap: may this worker finish the split scan? (A write of the same state:
    its point is the row lock and the count of matched rows.) It runs inside the final step's
    transaction, so a duplicate final step waits on the row lock, then matches no row because
    the scan is done; and a worker that dies after claiming rolls the claim back with the rest,
    leaving the scan to its redelivered message."""
    return bool(
        Scan.objects.filter(pk=scan.pk, state=ScanState.RUNNING).update(state=ScanState.RUNNING)
    )


def _run(
    scan: Scan, scope: Scope, lock: locks.LockSpec, *, snapshot: bool, chunked: bool = False
) -> Scan | None:
    """Evaluate `scope` and finish the scan, in one locked transaction. With `chunked` (the
    final step of a split scan) None when another worker finished the scan first."""
    with _failure_recorded(scan), locks.scan_lock(lock), transaction.atomic():
        locks.lock_in_transaction(lock)
        if chunked and not _claim_finish(scan):
            return None
        now = timezone.now()
        outcome = evaluate(scope, now=now)
        earlier = (
            list(ScanChunk.objects.filter(scan=scan).values_list("per_rule", flat=True))
            if chunked
            else None
        )
        _finish(scan, outcome, now, snapshot=snapshot, earlier=earlier)
    scan.refresh_from_db()
    return scan


def mark_stale_scans_failed() -> int:
    """Scans left `running` by a worker that died; their transaction was rolled back."""
    return Scan.objects.filter(
        state=ScanState.RUNNING, started_at__lt=timezone.now() - STALE_SCAN_AFTER
    ).update(
        state=ScanState.FAILED,
        finished_at=timezone.now(),
        error="The worker running this scan stopped; its changes were rolled back.",
    )


def scan_full(*, scan_id: int | None = None, requested_by: Any = None) -> Scan | None:
    """Run the whole catalogue over the whole portfolio in one transaction and take a
    snapshot. Returns the scan, or None when `scan_id` names a scan that already finished."""
    mark_stale_scans_failed()
    scan = _claim(scan_id, ScanKind.FULL, requested_by)
    if scan is None:
        return None
    return _run(scan, Scope(), locks.LockSpec.full(), snapshot=True)


def scan_projects(project_ids: Sequence[int]) -> Scan:
    """Re-check the given projects and their features, plus the portfolio-wide rules (a chain
    or a group may have changed with them). No snapshot: that is the full scan's job."""
    ids = tuple(sorted(set(project_ids)))
    scan = _claim(None, ScanKind.PARTIAL)
    assert scan is not None
    done = _run(scan, Scope(project_ids=ids), locks.LockSpec.projects(ids), snapshot=False)
    assert done is not None  # only a split scan's final step can find its scan finished
    return done


# --- Split full scans -----------------------------------------------------------------------


def plan_chunks(chunk_size: int) -> list[tuple[int, int]]:
    """Project-id ranges [lo, hi) of at most `chunk_size` ids each, covering every project."""
    from projects.models import CRMProject

    ids = list(CRMProject.objects.order_by("pk").values_list("pk", flat=True))
    if not ids or chunk_size <= 0:
        return [(0, UNBOUNDED)]
    # The last chunk is open-ended so that a project created meanwhile is not missed.
    edges = [0, *ids[chunk_size::chunk_size], UNBOUNDED]
    return list(itertools.pairwise(edges))


def scan_start_chunked(*, scan_id: int | None, chunk_size: int) -> tuple[Scan, list] | None:
    """Claim a full scan and record how many chunks it splits into; returns the ranges."""
    mark_stale_scans_failed()
    scan = _claim(scan_id, ScanKind.FULL)
    if scan is None:
        return None
    ranges = plan_chunks(chunk_size)
    Scan.objects.filter(pk=scan.pk).update(chunks_total=len(ranges))
    ScanChunk.objects.filter(scan=scan).delete()
    scan.refresh_from_db()
    return scan, ranges


def _all_chunks_recorded(scan_id: int) -> bool:
    done = ScanChunk.objects.filter(scan_id=scan_id).count()
    return done == Scan.objects.values_list("chunks_total", flat=True).get(pk=scan_id)


def scan_chunk(*, scan_id: int, index: int, lo: int, hi: int) -> bool:
    """Evaluate project and feature rules for projects lo <= id < hi, as part of a full scan.
    Returns True when every chunk is recorded: the caller then queues scan_finish, which runs
    once however often it is queued. A chunk that raises fails the whole scan."""
    scan = Scan.objects.filter(pk=scan_id, state=ScanState.RUNNING).first()
    if scan is None:
        return False  # finished, or failed
    scope = Scope(project_range=(lo, hi), portfolio_rules=False)
    lock = locks.LockSpec.chunk(lo, hi)
    with _failure_recorded(scan), locks.scan_lock(lock), transaction.atomic():
        locks.lock_in_transaction(lock)
        if ScanChunk.objects.filter(scan_id=scan_id, index=index).exists():
            # Redelivered after its transaction committed: its worker may have died before
            # queueing the final step, so say again whether that step is due.
            return _all_chunks_recorded(scan_id)
        outcome = evaluate(scope)
        # An UPDATE locks the scan row until commit, so the chunks of a scan pass this point
        # one at a time and exactly one of them sees the last count.
        Scan.objects.filter(pk=scan_id).update(
            opened=F("opened") + outcome.opened, resolved=F("resolved") + outcome.resolved
        )
        ScanChunk.objects.create(
            scan_id=scan_id, index=index, lo=lo, hi=hi, per_rule=_per_rule(outcome)
        )
        return _all_chunks_recorded(scan_id)


def scan_finish(*, scan_id: int) -> Scan | None:
    """The last step of a split full scan: portfolio-wide rules, snapshot, done. None (and no
    change) when the scan is not running any more: finished by a duplicate of this step, or
    failed."""
    scan = Scan.objects.filter(pk=scan_id, state=ScanState.RUNNING).first()
    if scan is None:
        return None
    return _run(
        scan, Scope(project_rules=False), locks.LockSpec.portfolio(), snapshot=True, chunked=True
    )
