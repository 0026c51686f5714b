"""Runs the rule catalogue and keeps the flags table true to it.

A scan issues the same handful of statements whatever the portfolio size and however many
rules there are, and runs each rule's query once:

0. match    — one statement over a UNION ALL of every rule's query: the subjects each rule
              matches (rule, subject type, id, label, project, and the severity and message
              its flag should carry) into a temporary table (`ScanMatch`); a full scan on
              PostgreSQL creates the table from it, so parallel workers can run the rules
1. resolve  — unresolved flags in scope whose (rule, subject) is not in it (NOT EXISTS) →
              resolved
2. reopen   — waived flags past their expiry (the condition still holds after step 1) → open
3. refresh  — the remaining unresolved flags whose severity, message or label differ → updated
              (a flag that did not change is not rewritten: no churn, no table bloat)
4. insert   — INSERT … SELECT the matched subjects that have no unresolved flag (NOT EXISTS)

Steps 1 to 4 each run once for all rules, counting what they changed per rule (RETURNING).
Each statement is compiled once per process and kept (`_compiled`): what differs between two
scans that run it (their time, a re-check's projects and groups) is bound to slots when it
runs (`core.slots`), so a re-check after an edit costs its SQL, not Django's compiler.
The flags steps 2 and 4 open carry the scan's time (`opened_at`); once the scan has committed,
a task of its own tells the people concerned of them (`notify.tell_scan`). Once a full scan has
committed, it records the figures the dashboard and the summary read (`take_snapshot`) from the
flags it left, in a transaction of its own, outside the scan lock.

Acknowledged and waived decisions are never touched while the condition holds. All of a
scan's flag writes happen in one transaction under the scan lock (`alignment.locks`), so a
worker killed half-way leaves the previous, consistent state and a second scan changes
nothing. A flag's `last_seen` is when a scan last opened, reopened or changed it.

A scan's `Scope` says which subjects it covers: everything (full scan) or some projects (the
live re-check after an edit). A re-check evaluates the rules about projects and features for
those projects, and the rules about groups of projects (`Rule.groups_projects`: too many active
projects per manager, department, CRM strategy) for just the groups those projects belong to
and the groups the edit took them out of (it names them: a group left may have been relieved).
A re-check with no flag in its scope skips steps 1 to 3 (one query up front says), and those
steps find its flags by project and by group: a few index probes, however many rules. So a
re-check's cost does not grow with the portfolio, nor with the number of groups flagged.
Rules about goals and strategies cannot change with a project; an edit to those queues a full
scan.

A full scan is one transaction on one worker. Splitting it into id-range chunks over several
workers was measured and removed: a full scan of 100,000 projects is seconds of set-based SQL
on PostgreSQL (README, "Performance"), and the split brought a chunk model, three more tasks,
shared locks and failure modes of its own (a lost "finish" message left scans running forever).

Faults: a scan stops at its deadline (ALIGNMENT_SCAN_TIME_LIMIT_SECONDS, also enforced by
PostgreSQL's statement_timeout) and records why; a lost database connection raises
`DatabaseUnavailable` without touching the record (the task retries with backoff); the sweep
(`sweep_stale_scans`) ends queued or running scans that can no longer finish, with the reason.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from auditlog import get_logentry_model
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import EmptyResultSet
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from core import audit, slots
from core.slots import InIds, Slot

from . import locks, notify
from .models import (
    SCAN_SKIPPED_PREFIX,
    UNRESOLVED_STATES,
    Flag,
    FlagState,
    RuleSetting,
    Scan,
    ScanKind,
    ScanMatch,
    ScanState,
    Snapshot,
    SubjectType,
)
from .rules import (
    MESSAGE_ALIAS,
    RULES,
    SUBJECTS,
    Rule,
    RuleContext,
    SubjectKind,
    group_slot,
    subject_label_expression,
)
from .selectors import feature_traceability

log = logging.getLogger(__name__)

UNFINISHED_STATES = [ScanState.QUEUED, ScanState.RUNNING]


class ScanTimedOut(Exception):
    """The scan ran past its time limit; its transaction was rolled back."""


class DatabaseUnavailable(Exception):
    """The connection to the database was lost mid-scan (a restart, a network cut). Nothing was
    written, not even the failure: the task retries, and the sweep ends the scan if none does."""


@dataclass(frozen=True)
class Scope:
    """Which subjects a scan covers. The default covers the whole portfolio."""

    project_ids: tuple[int, ...] | None = None  # a re-check of these projects
    portfolio_rules: bool = True  # evaluate rules about goals, strategies, managers, departments
    project_rules: bool = True  # evaluate rules about projects and features
    # A re-check's groups, per subject type (filled in by `evaluate`, see `_groups_of`).
    groups: Mapping[str, tuple[int, ...]] | None = None
    # Groups the projects just left (an edit moved a project to another manager, say), which
    # a re-check covers besides the projects' own groups: they may have been relieved.
    left_groups: Mapping[str, Sequence[int]] | None = None

    @property
    def is_full(self) -> bool:
        return self.project_ids is None and self.portfolio_rules and self.project_rules

    def covers(self, rule: Rule, kind: SubjectKind) -> bool:
        if kind.project_field:
            return self.project_rules
        return self.portfolio_rules and (self.project_ids is None or rule.groups_projects)

    # A re-check's ids are slots (core.slots), bound when its statements run: the
    # statements compile once per shape, whichever projects are re-checked (`_compiled`).
    def subject_q(self, kind: SubjectKind, subject_type: str) -> Q:
        if self.project_ids is None:
            return Q()
        if kind.project_field is None:
            return Q(InIds("pk", group_slot(subject_type)))
        return Q(InIds(kind.project_field, PROJECTS))

    def flag_q(self, kind: SubjectKind, subject_type: str) -> Q:
        if self.project_ids is None:
            return Q()
        if kind.project_field is None:
            return Q(InIds("subject_id", group_slot(subject_type)))
        # Served by the (project, state) index. Flags a deleted project left behind (project
        # NULL) are resolved separately, see _resolve_orphans.
        return Q(InIds("project_id", PROJECTS))

    def values(self, now: datetime.datetime) -> dict[str, Any]:
        """What a scan of this scope binds to its statements' slots."""
        values: dict[str, Any] = {
            NOW: now,
            OPERATION: audit.current().operation,
            PROJECTS: self.project_ids or (),
        }
        for kind in GROUP_SUBJECT_TYPES:
            values[group_slot(kind)] = (self.groups or {}).get(kind, ())
        return values


# The rule whose match a full scan counts the dashboard's feature traceability from (it matches
# exactly the live portfolio's features that do not trace; see selectors.feature_traceability).
FEATURE_UNTRACED = "feature.untraced"
# Together exactly the live projects that do not trace: not linked at all, or linked with no
# link reaching an active goal (see selectors.live_budget_sums and strategy_map.node_health).
PROJECT_UNTRACED_RULES = ("project.untraced", "project.broken_chain")


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
    window: int | None = None


def _default_setting(rule: Rule) -> RuleSetting:
    return RuleSetting(
        code=rule.code,
        enabled=True,
        severity=rule.default_severity,
        threshold=rule.threshold_default,
        window=rule.window_default,
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
            row.window if row.window is not None else r.window_default,
        )
    return result


# The slots (core.slots) a scan binds: its time, the operation it runs for, the projects
# a re-check covers (and its groups: rules.group_slot).
NOW, OPERATION, PROJECTS = "now", "operation", "projects"


def _now() -> Any:
    """The scan's time (a slot), as a column of an INSERT … SELECT, an UPDATE or a filter."""
    expression = Slot(NOW, DateTimeField())
    # PostgreSQL infers text for a bare literal in INSERT … SELECT; say it is a timestamp.
    return Cast(expression, DateTimeField()) if connection.vendor == "postgresql" else expression


# Compiled statements, per process: what shapes one (the database, the statement, the rules
# and subject types it covers, their settings, the day) → its SQL and parameters, with slot
# markers where a scan's values go, or None for a statement that can match nothing. A
# re-check after an edit runs the same statements as the one before with other values; Django
# compiled them each time, about two thirds of a re-check's time (README, "Performance").
_STATEMENTS: dict[tuple[Any, ...], tuple[str, list[Any]] | None] = {}
_STATEMENTS_KEPT = 512  # shapes: a few per day and settings; then start again
_NOT_KEPT = object()


def _compiled(
    key: tuple[Any, ...], build: Callable[[], tuple[str, Sequence[Any]]]
) -> tuple[str, list[Any]] | None:
    """The statement `build` compiles, compiled once per `key`. The key must name everything
    the statement's SQL depends on other than its slots' values."""
    # The active time zone too: a date taken from a timestamp names it in the statement.
    key = (connection.alias, connection.vendor, timezone.get_current_timezone_name(), *key)
    kept = _STATEMENTS.get(key, _NOT_KEPT)  # one lookup: another thread may clear the dict
    if kept is not _NOT_KEPT:
        return kept  # type: ignore[return-value]
    try:
        sql, params = build()
        found: tuple[str, list[Any]] | None = (sql, list(params))
    except EmptyResultSet:
        found = None
    if len(_STATEMENTS) >= _STATEMENTS_KEPT:
        _STATEMENTS.clear()
    _STATEMENTS[key] = found
    return found


# Planner statistics pay for themselves only on a large match (PostgreSQL does not analyse
# temporary tables by itself, and guesses their size).
ANALYZE_MATCHES_FROM = 5000

_MATCH_TABLE_SQL = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS {table} (rule varchar(64) NOT NULL, "
    "subject_type varchar(32) NOT NULL, subject_id bigint NOT NULL, label varchar(255) NOT NULL, "
    "project_id bigint NULL, severity varchar(16) NOT NULL, message text NOT NULL, "
    "PRIMARY KEY (rule, subject_type, subject_id))"
)


@dataclass(frozen=True)
class _Pair:
    """One rule and one of its subject types, as a scan evaluates them."""

    rule: Rule
    subject_type: str
    kind: SubjectKind
    setting: EffectiveSetting

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule.code, str(self.subject_type))


def _fill_matches(
    pairs: list[_Pair],
    findings: Callable[[_Pair], QuerySet[Any]],
    values: Mapping[str, Any],
    *,
    shape: tuple[Any, ...],
    whole: bool = False,
) -> int:
    """Step 0: every rule's query, once, into the session's temporary match table: one
    statement over a UNION ALL of the rules' queries (`findings` of each pair), each row with
    the severity and message its flag should carry. Returns how many rows matched. `shape`
    names what the rules' queries depend on besides the pairs and their settings (`_compiled`).

    A re-check (a small match) empties the session's table and INSERTs into it. The `whole`
    portfolio's match, on PostgreSQL, replaces the table with CREATE TABLE … AS: PostgreSQL
    runs no part of an INSERT … SELECT in parallel workers, but does run the query of a
    CREATE TABLE AS in them — at 100,000 projects that took the statement from 2.4 s to 1.5 s
    on two cores. The unique index stands in for the primary key the created table lacks."""
    table = connection.ops.quote_name(ScanMatch._meta.db_table)
    create = whole and connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if create:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        else:
            cursor.execute(_MATCH_TABLE_SQL.format(table=table))
            # TRUNCATE on PostgreSQL gives the pages of the last big match back, so the planner
            # does not take a small match for its size; an empty table costs next to nothing.
            empty = "TRUNCATE" if connection.vendor == "postgresql" else "DELETE FROM"
            cursor.execute(f"{empty} {table}")
    key = ("match", whole, *shape, tuple((pair.key, pair.setting) for pair in pairs))
    compiled = _compiled(key, partial(_match_sql, pairs, findings, table=table, create=create))
    if compiled is None:
        if create:  # the steps after read the table: an empty one
            with connection.cursor() as cursor:
                cursor.execute(_MATCH_TABLE_SQL.format(table=table))
        return 0
    sql, params = compiled
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(sql, slots.bind(params, values, connection))
        matched = max(cursor.rowcount, 0)
        if create:
            # The subject's id first: most comparisons of the index build end on an integer
            # instead of collating text (29 ms instead of 86 at 100,000 projects).
            cursor.execute(
                f"CREATE UNIQUE INDEX ON {table} "
                f"({quote('subject_id')}, {quote('rule')}, {quote('subject_type')})"
            )
        if matched >= ANALYZE_MATCHES_FROM and connection.vendor == "postgresql":
            # Statistics of the columns the later steps join and filter on, not of the texts.
            keys = ", ".join(quote(c) for c in ("rule", "subject_type", "subject_id", "project_id"))
            cursor.execute(f"ANALYZE {table} ({keys})")
    return matched


def _match_sql(
    pairs: list[_Pair],
    findings: Callable[[_Pair], QuerySet[Any]],
    *,
    table: str,
    create: bool,
) -> tuple[str, list[Any]]:
    """The match statement of `_fill_matches`: INSERT (or CREATE TABLE AS) of a UNION ALL of
    the rules' queries. Raises EmptyResultSet when no rule's query can match anything."""
    parts: list[tuple[str, list[Any]]] = []
    for pair in pairs:
        found = findings(pair)
        columns: list[Any] = [
            Value(pair.rule.code),
            Value(str(pair.subject_type)),
            F("pk"),
            subject_label_expression(pair.subject_type),
            (
                pair.kind.project()
                if pair.kind.project is not None
                # Typed: PostgreSQL takes a bare NULL in a derived table for text.
                else Cast(Value(None), BigIntegerField())
            ),
            Value(pair.setting.severity),
            # A rule that words each subject's message itself aliases it (rules.MESSAGE_ALIAS),
            # e.g. naming the projects or systems involved.
            (
                F(MESSAGE_ALIAS)
                if MESSAGE_ALIAS in found.query.annotations
                else Value(pair.rule.message(pair.setting.threshold, pair.setting.window))
            ),
        ]
        # Aliased annotations only, so each SELECT list has exactly these columns in order.
        aliases = {f"match_col_{i}": expr for i, expr in enumerate(columns)}
        select = found.order_by().annotate(**aliases).values(*aliases)
        try:
            sql, params = select.query.get_compiler(using=select.db).as_sql()
        except EmptyResultSet:  # e.g. a rule whose query can match nothing
            continue
        parts.append((sql, list(params)))
    if not parts:
        raise EmptyResultSet
    quote = connection.ops.quote_name
    target = ", ".join(
        quote(name)
        for name in (
            "rule",
            "subject_type",
            "subject_id",
            "label",
            "project_id",
            "severity",
            "message",
        )
    )
    # Each part is the ORM's compiled SQL (values go as parameters); SQLite wants no
    # parentheses around the members of a compound SELECT, PostgreSQL takes either.
    union = " UNION ALL ".join(
        f"SELECT * FROM ({part}) AS m{i}"  # noqa: S608
        for i, (part, _params) in enumerate(parts)
    )
    params = [param for _sql, params in parts for param in params]
    if create:
        return f"CREATE TEMPORARY TABLE {table} ({target}) AS {union}", params
    return f"INSERT INTO {table} ({target}) {union}", params


def _rules_of(
    compiled: tuple[str, list[Any]] | None, values: Mapping[str, Any], cursor: Any
) -> Counter[str]:
    """Run a compiled write with `RETURNING rule`, its slots bound to `values`, and count the
    rows it wrote per rule."""
    if compiled is None:
        return Counter()
    sql, params = compiled
    cursor.execute(
        f"{sql} RETURNING {connection.ops.quote_name('rule')}",
        slots.bind(params, values, connection),
    )
    return Counter(row[0] for row in cursor.fetchall())


def _execute(compiled: tuple[str, list[Any]] | None, values: Mapping[str, Any]) -> None:
    if compiled is not None:
        with connection.cursor() as cursor:
            cursor.execute(compiled[0], slots.bind(compiled[1], values, connection))


def _update_sql(flags: QuerySet[Flag], **changes: Any) -> tuple[str, Sequence[Any]]:
    """flags.update(**changes) as one compiled statement (EmptyResultSet if it can change
    nothing)."""
    query: Any = flags.query.chain(UpdateQuery)
    query.add_update_values(changes)
    compiler = query.get_compiler(connection=connection)
    compiler.pre_sql_setup()
    return compiler.as_sql()


def _update_counted(
    key: tuple[Any, ...],
    flags: Callable[[], QuerySet[Flag]],
    values: Mapping[str, Any],
    **changes: Any,
) -> Counter[str]:
    """flags().update(**changes), one statement compiled once per `key`, counting the flags it
    changed per rule."""
    compiled = _compiled(("update", *key), lambda: _update_sql(flags(), **changes))
    with connection.cursor() as cursor:
        return _rules_of(compiled, values, cursor)


def _record_states(
    key: tuple[Any, ...],
    flags: Callable[[], QuerySet[Flag]],
    state: str,
    values: Mapping[str, Any],
) -> None:
    """The history of a set-based state change (resolve, reopen): one entry per flag that
    `flags()` is about to move to `state`, with its old and new state, written in one
    INSERT … SELECT (compiled once per `key`) before the UPDATE that moves them — never a
    Python loop over rows. The scan's inserts of new flags are not recorded (a first scan of a
    large portfolio writes hundreds of thousands: the flag's `first_seen` says when and the
    scan's record by what)."""
    _execute(_compiled(("history", state, *key), partial(_history_sql, flags, state)), values)


def _history_sql(flags: Callable[[], QuerySet[Flag]], state: str) -> tuple[str, list[Any]]:
    entry = get_logentry_model()
    text = CharField()
    postgres = connection.vendor == "postgresql"

    def as_json(expr: Any) -> Any:
        return Cast(expr, JSONField()) if postgres else expr

    columns: dict[str, Any] = {
        # Read in the statement: no query of its own, cached or not, so every scan costs the same.
        "content_type_id": Subquery(
            ContentType.objects.filter(
                app_label=Flag._meta.app_label, model=Flag._meta.model_name
            ).values("pk")[:1]
        ),
        "object_pk": Cast(F("id"), text),
        "object_id": F("id"),
        "object_repr": Concat(F("rule"), Value(": "), F("subject_label"), output_field=text),
        "action": Value(audit.UPDATED),
        "changes_text": Value(""),
        # {"state": [old, new]}; states are plain words, so the JSON is spelled out (the
        # database's JSON functions differ, and SQLite's are probed with a query of their own).
        "changes": as_json(
            Concat(Value('{"state": ["'), F("state"), Value(f'", "{state}"]}}'), output_field=text)
        ),
        "timestamp": _now(),
        "channel": Value("scan"),
        "operation": Slot(OPERATION, CharField()),
        "page_key": Case(
            When(
                project_id__isnull=False,
                then=Concat(Value("project:"), Cast(F("project_id"), text), output_field=text),
            ),
            default=Value(""),
            output_field=text,
        ),
        "subpage_key": Concat(Value("flag:"), Cast(F("id"), text), output_field=text),
    }
    aliases = {f"history_col_{i}": expr for i, expr in enumerate(columns.values())}
    select = flags().exclude(state=state).order_by().annotate(**aliases).values(*aliases)
    select_sql, params = select.query.get_compiler(using=select.db).as_sql()
    quote = connection.ops.quote_name
    db_columns = {f.attname: str(f.column) for f in entry._meta.concrete_fields}
    target = ", ".join(quote(db_columns[name]) for name in columns)
    return f"INSERT INTO {quote(entry._meta.db_table)} ({target}) {select_sql}", list(params)


def _in_match() -> Exists:
    """For a flag: the scan matched its rule and subject."""
    return Exists(
        ScanMatch.objects.filter(
            rule=OuterRef("rule"),
            subject_type=OuterRef("subject_type"),
            subject_id=OuterRef("subject_id"),
        )
    )


def _refresh(
    key: tuple[Any, ...], flags: Callable[[], QuerySet[Flag]], values: Mapping[str, Any]
) -> None:
    """Step 3: bring the severity, message and label of the flags that still hold up to date
    from the match, rewriting only those that differ. One statement, compiled once per `key`."""
    _execute(_compiled(("refresh", *key), partial(_refresh_sql, flags)), values)


def _refresh_sql(flags: Callable[[], QuerySet[Flag]]) -> tuple[str, Sequence[Any]]:
    match = ScanMatch.objects.filter(
        rule=OuterRef("rule"),
        subject_type=OuterRef("subject_type"),
        subject_id=OuterRef("subject_id"),
    )
    differs = match.filter(
        ~Q(severity=OuterRef("severity"))
        | ~Q(message=OuterRef("message"))
        | ~Q(label=OuterRef("subject_label"))
    )
    return _update_sql(
        flags().filter(Exists(differs)),
        severity=Subquery(match.values("severity")[:1]),
        message=Subquery(match.values("message")[:1]),
        subject_label=Subquery(match.values("label")[:1]),
        last_seen=_now(),
    )


def _insert_new_flags(values: Mapping[str, Any], matched: int) -> Counter[str]:
    """Step 4: one open flag per matched subject without an unresolved flag, per rule counted.
    One statement (compiled once); for a large match (`matched` rows), without nested loops."""
    # A small match (a re-check) is best served by probing the flags' index once per match.
    large = matched >= ANALYZE_MATCHES_FROM
    compiled = _compiled(("insert",), _insert_sql)
    with connection.cursor() as cursor, _without_nested_loops(cursor, large):
        return _rules_of(compiled, values, cursor)


def _insert_sql() -> tuple[str, list[Any]]:
    unflagged = ScanMatch.objects.filter(
        ~Exists(
            Flag.objects.filter(
                rule=OuterRef("rule"),
                subject_type=OuterRef("subject_type"),
                subject_id=OuterRef("subject_id"),
                state__in=UNRESOLVED_STATES,
            )
        )
    )
    columns: dict[str, Any] = {
        "rule": F("rule"),
        "severity": F("severity"),
        "subject_type": F("subject_type"),
        "subject_id": F("subject_id"),
        "subject_label": F("label"),
        "message": F("message"),
        "state": Value(FlagState.OPEN.value),
        "first_seen": _now(),
        "last_seen": _now(),
        "opened_at": _now(),
        "waiver_reason": Value(""),
        "project_id": F("project_id"),
    }
    aliases = {f"insert_col_{i}": expr for i, expr in enumerate(columns.values())}
    select = unflagged.order_by().annotate(**aliases).values(*aliases)
    select_sql, params = select.query.get_compiler(using=select.db).as_sql()
    quote = connection.ops.quote_name
    db_columns = {f.attname: str(f.column) for f in Flag._meta.concrete_fields}
    target = ", ".join(quote(db_columns[name]) for name in columns)
    return f"INSERT INTO {quote(Flag._meta.db_table)} ({target}) {select_sql}", list(params)


@contextmanager
def _without_nested_loops(cursor: Any, large: bool) -> Iterator[None]:
    """Around the insert of a `large` match's new flags on PostgreSQL: no nested-loop plans.
    The insert reads the flags table (which subjects already have a flag) while it writes to
    it. Planned over an
    empty or nearly empty table — a new portfolio's first scan, once autovacuum has analysed
    the table — the anti-join became a nested loop that scanned the whole table's heap again
    for every matched subject, including the pages this very statement was filling: quadratic,
    over 100 s instead of 1.5 s for the 121,083 flags of 100,000 projects. A hash or merge join
    reads the existing flags once, before the first row is written. Then the setting is put
    back for the rest of the scan's transaction. A small match keeps the nested loop that
    probes the flags' unique index per match (hashing every unresolved flag instead took a
    re-check's insert from under a millisecond to 29 ms at 100,000 projects)."""
    if not large or connection.vendor != "postgresql":
        yield
        return
    cursor.execute(
        "SELECT current_setting('enable_nestloop'), set_config('enable_nestloop', 'off', true)"
    )
    (previous, _off) = cursor.fetchone()
    yield
    cursor.execute("SELECT set_config('enable_nestloop', %s, true)", [previous])


# The subject types of the rules about groups of projects, and so of a re-check's groups.
GROUP_SUBJECT_TYPES = (
    SubjectType.CRM_STRATEGY,
    SubjectType.MANAGER,
    SubjectType.DEPARTMENT,
    SubjectType.USER_GROUP,
)


def _groups_of(
    project_ids: tuple[int, ...], left: Mapping[str, Sequence[int]] | None = None
) -> dict[str, tuple[int, ...]]:
    """The groups a re-check of these projects covers for the rules about groups of projects:
    the groups the projects are in now (one may have become overloaded), and the groups they
    just `left` (one may have been relieved), as the edit that left them reported them
    (alignment.receivers). Two small, indexed queries, whatever the number of groups flagged:
    a group is never looked at because of another group's projects."""
    from projects.models import CRMProject, ProjectLink, ProjectUserGroup

    groups: dict[str, set[Any]] = {kind: set() for kind in GROUP_SUBJECT_TYPES}
    for kind, ids in (left or {}).items():
        if kind in groups:
            groups[kind].update(int(pk) for pk in ids)
    if project_ids:
        groups[SubjectType.CRM_STRATEGY].update(
            ProjectLink.objects.filter(project_id__in=project_ids).values_list(
                "crm_strategy_id", flat=True
            )
        )
        groups[SubjectType.USER_GROUP].update(
            ProjectUserGroup.objects.filter(project_id__in=project_ids).values_list(
                "user_group_id", flat=True
            )
        )
        for manager, department in CRMProject.objects.filter(pk__in=project_ids).values_list(
            "manager_id", "department_id"
        ):
            groups[SubjectType.MANAGER].add(manager)
            groups[SubjectType.DEPARTMENT].add(department)
    return {kind: tuple(sorted(ids - {None})) for kind, ids in groups.items()}


def _resolve_orphans(outcome: Outcome, values: Mapping[str, Any]) -> None:
    """Resolve the flags a deleted project left behind: its own and its features' flags, whose
    project became NULL (a project's or feature's flag always has one). The re-check queued by
    the delete runs this; a full scan resolves them like any subject that no longer matches."""
    orphans = Flag.objects.filter(
        project__isnull=True,
        subject_type__in=[kind for kind, subject in SUBJECTS.items() if subject.project_field],
        state__in=UNRESOLVED_STATES,
    )
    counts = list(
        orphans.order_by().values("rule").annotate(n=Count("pk")).values_list("rule", "n")
    )
    for code, n in counts:
        outcome.by_rule.setdefault(code, RuleOutcome()).resolved += n
    if counts:  # mostly there are none: no second statement
        _record_states(("orphans",), lambda: orphans, FlagState.RESOLVED, values)
        orphans.update(state=FlagState.RESOLVED, resolved_at=values[NOW])


def _flagged_in_scope(scope: Scope) -> set[tuple[str, str]]:
    """The (rule, subject type) pairs with an unresolved flag in a re-check's scope: one small,
    indexed query, so a rule that matches nothing there and has nothing flagged there costs
    the one statement that looked."""
    in_scope = Q(project_id__in=scope.project_ids or ())
    for subject_type, ids in (scope.groups or {}).items():
        if ids:
            in_scope |= Q(subject_type=subject_type, subject_id__in=ids)
    return set(
        Flag.objects.filter(in_scope, state__in=UNRESOLVED_STATES)
        .order_by()
        .values_list("rule", "subject_type")
        .distinct()
    )


def _in_scope(scope: Scope, pairs: list[_Pair]) -> Q:
    """The unresolved flags of these (rule, subject type) pairs within the scope."""
    if scope.project_ids is None:
        rules: dict[str, set[str]] = {}
        for pair in pairs:
            rules.setdefault(pair.rule.code, set()).add(str(pair.subject_type))
        # A full scan covers every subject type of a rule it evaluates: by rule alone.
        whole = [code for code, types in rules.items() if types == set(RULES[code].subject_types)]
        q = Q(rule__in=whole) if whole else Q(pk__in=[])
        for code, types in rules.items():
            if code not in whole:
                q |= Q(rule=code, subject_type__in=sorted(types))
    else:
        # One branch per kind of subject (the projects' and features' flags by project, each
        # kind of group's by its ids), each naming its pairs: a few index probes, however many
        # rules there are.
        branches: dict[str, list[_Pair]] = {}
        for pair in pairs:
            kind = PROJECTS if pair.kind.project_field else str(pair.subject_type)
            branches.setdefault(kind, []).append(pair)
        q = Q(pk__in=[])
        for members in branches.values():
            which = Q(pk__in=[])
            for pair in members:
                which |= Q(rule=pair.rule.code, subject_type=pair.subject_type)
            q |= scope.flag_q(members[0].kind, members[0].subject_type) & which
    return q & Q(state__in=UNRESOLVED_STATES)


# Building the rules' querysets is Python's work alone, and a scan whose match statement is
# not compiled yet (`_compiled`) builds the same ones as the one before: they depend only on
# the day, the rule's settings, and whether it is a re-check (whose groups are slots), so they
# are kept per process. A kept queryset is never run itself — each use filters or annotates a
# copy — so it holds no rows.
_FINDINGS: dict[tuple[Any, ...], dict[str, QuerySet[Any]]] = {}


def _findings(rule: Rule, ctx: RuleContext) -> dict[str, QuerySet[Any]]:
    key = (rule.code, ctx.today, ctx.threshold, ctx.window, ctx.only and rule.groups_projects)
    found = _FINDINGS.get(key)
    if found is None:
        if len(_FINDINGS) >= 4 * len(RULES):  # yesterday's, or settings since changed
            _FINDINGS.clear()
        found = _FINDINGS[key] = rule.findings(replace(ctx, only=key[-1]))
    return found


def evaluate(
    scope: Scope, *, now: datetime.datetime | None = None, deadline: float | None = None
) -> Outcome:
    """Bring the flags in `scope` in line with the rules. Call inside a transaction, locked.
    Past `deadline` (a time.monotonic() value) it raises ScanTimedOut between two steps.

    The flags it opens (new, or reopened when their waiver expired) carry `opened_at=now`:
    who hears of them is the business of a task queued when the scan commits
    (`notify.tell_scan`), not of this transaction (a first scan of a large portfolio opens
    tens of thousands)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    settings = effective_settings()
    if scope.project_ids is not None and scope.groups is None:
        scope = replace(scope, groups=_groups_of(scope.project_ids, scope.left_groups))
    outcome = Outcome(by_rule={code: RuleOutcome() for code in RULES})

    def add(counts: Counter[str], attribute: str) -> None:
        for code, n in counts.items():
            result = outcome.by_rule[code]
            setattr(result, attribute, getattr(result, attribute) + n)

    def check_deadline() -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise ScanTimedOut(_time_limit_message())

    recheck = scope.project_ids is not None
    values = scope.values(now)
    # A full scan assumes every rule has flags; a re-check asks which have, in its scope.
    flagged = _flagged_in_scope(scope) if recheck else None
    if recheck:
        _resolve_orphans(outcome, values)
    on: list[_Pair] = []
    off: list[_Pair] = []
    for code, rule in RULES.items():
        setting = settings[code]
        covered = [t for t in rule.subject_types if scope.covers(rule, SUBJECTS[t])]
        if not covered:
            continue
        pairs = [_Pair(rule, t, SUBJECTS[t], setting) for t in covered]
        if not setting.enabled:
            off += pairs
            continue
        on += pairs

    def findings(pair: _Pair) -> QuerySet[Any]:
        """The pair's rule's query within the scope (built only when its statement is not
        compiled yet)."""
        found = _findings(
            pair.rule,
            RuleContext(
                today=today,
                threshold=pair.setting.threshold,
                window=pair.setting.window,
                only=recheck,
            ),
        )
        return found[pair.subject_type].filter(scope.subject_q(pair.kind, pair.subject_type))

    def any_flagged(pairs: list[_Pair]) -> bool:
        """Whether some of these pairs have a flag in the scope (a full scan assumes so)."""
        return bool(pairs) and (flagged is None or any(p.key in flagged for p in pairs))

    # Everything the steps' statements depend on besides their slots' values (`_compiled`):
    # all the pairs evaluated, whichever have flags in this re-check's scope, so that a
    # re-check of any project runs the statements the one before compiled.
    def shape(pairs: list[_Pair]) -> tuple[Any, ...]:
        return (recheck, tuple(p.key for p in pairs))

    now_slot = _now()
    # A rule switched off resolves its flags; they reopen if it is switched on.
    if any_flagged(off):
        key = ("off", *shape(off))

        def off_flags() -> QuerySet[Flag]:
            return Flag.objects.filter(_in_scope(scope, off))

        _record_states(key, off_flags, FlagState.RESOLVED, values)
        add(
            _update_counted(key, off_flags, values, state=FlagState.RESOLVED, resolved_at=now_slot),
            "resolved",
        )
    check_deadline()
    matched = _fill_matches(on, findings, values, shape=(today, recheck), whole=not recheck)
    check_deadline()
    if any_flagged(on):  # else steps 1 to 3 have nothing to do

        def flags() -> QuerySet[Flag]:
            return Flag.objects.filter(_in_scope(scope, on))

        # 1. What no longer matches is resolved (its history first, set-based).
        key = ("resolve", *shape(on))

        def unmatched() -> QuerySet[Flag]:
            return flags().filter(~_in_match())

        _record_states(key, unmatched, FlagState.RESOLVED, values)
        add(
            _update_counted(key, unmatched, values, state=FlagState.RESOLVED, resolved_at=now_slot),
            "resolved",
        )
        check_deadline()
        # 2. What is left unresolved still holds. An expired waiver reopens.
        key = ("reopen", *shape(on))

        def expired() -> QuerySet[Flag]:
            return flags().filter(state=FlagState.WAIVED, waiver_expires_at__lte=now_slot)

        _record_states(key, expired, FlagState.OPEN, values)
        add(
            _update_counted(
                key,
                expired,
                values,
                state=FlagState.OPEN,
                last_seen=now_slot,
                opened_at=now_slot,
            ),
            "opened",
        )
        # 3. Severity, message, label brought up to date where they differ.
        _refresh(shape(on), flags, values)
        check_deadline()
    # 4. What is new.
    if matched:
        add(_insert_new_flags(values, matched), "opened")
    return outcome


def _untraced_from_flags(settings: Mapping[str, EffectiveSetting]) -> tuple[Any, Any]:
    """The full scan's findings the snapshot counts from, as its flags hold them once it has
    committed (its match is gone by then, or another scan's): the untraced features (values
    `fid`, `pid`) and the live projects that do not trace (values `pid`). None for either when
    its rule is switched off: the snapshot then walks the portfolio itself."""
    unresolved = Flag.objects.filter(state__in=UNRESOLVED_STATES)
    features = None
    if settings[FEATURE_UNTRACED].enabled:
        features = unresolved.filter(
            rule=FEATURE_UNTRACED, subject_type=SubjectType.FEATURE
        ).values(fid=F("subject_id"), pid=F("project_id"))
    projects = None
    if all(settings[code].enabled for code in PROJECT_UNTRACED_RULES):
        projects = unresolved.filter(
            rule__in=PROJECT_UNTRACED_RULES, subject_type=SubjectType.PROJECT
        ).values(pid=F("subject_id"))
    return features, projects


def _take_snapshot(scan_id: int, now: datetime.datetime) -> Snapshot:
    """Record every figure the dashboard and the summary show, so they read one row instead of
    recomputing the portfolio per request; the functions that compute them are the pages' own,
    so each figure keeps one definition."""
    from .dashboard import dashboard_figures
    from .selectors import live_budget_sums, open_flag_counts, portfolio_figures

    # The untraced features and projects as the scan flagged them, counted once for the
    # headline and the dashboard's worst projects; the budgets once for the headline and the
    # spend split.
    untraced_features, untraced_projects = _untraced_from_flags(
        effective_settings(create_missing=False)
    )
    features = feature_traceability(untraced=untraced_features)
    sums = live_budget_sums(untraced=untraced_projects)
    figures = portfolio_figures(features, sums)
    by_rule, by_severity = open_flag_counts()
    return Snapshot.objects.create(
        scan_id=scan_id,
        taken_at=now,
        projects_total=figures["projects_total"],
        projects_traced=figures["projects_traced"],
        features_total=figures["features_total"],
        features_traced=figures["features_traced"],
        budget_total=figures["budget_total"],
        budget_traced=figures["budget_traced"],
        budget_technology=figures["budget_technology"],
        budget_capability=figures["budget_capability"],
        open_by_rule=by_rule,
        open_by_severity=by_severity,
        figures=dashboard_figures(features, sums, untraced=untraced_projects),
    )


def take_snapshot(scan_id: int) -> Snapshot | None:
    """The figures of a full scan that has committed, in a transaction of their own, outside
    the scan lock: the lock and the flags' transaction are not held while the portfolio is
    summed (re-checks after edits wait less), and a fault here loses no flag. Rerun-safe: a
    scan has one snapshot (two tasks taking it at once both return the one that committed
    first). None when the scan is not a finished full scan, or when the database went away
    (`snapshots_missing` finds it again for the sweep)."""
    deadline = time.monotonic() + _time_limit()
    finished = Scan.objects.filter(pk=scan_id, kind=ScanKind.FULL, state=ScanState.DONE)
    try:
        with transaction.atomic():
            _limit_statements(deadline)
            if not finished.exists():
                return None
            if existing := Snapshot.objects.filter(scan_id=scan_id).first():
                return existing
            try:
                with transaction.atomic():
                    return _take_snapshot(scan_id, timezone.now())
            except IntegrityError:
                pass  # taken meanwhile by another task (the sweep's, or a redelivery)
        return Snapshot.objects.filter(scan_id=scan_id).first()
    except (OperationalError, InterfaceError) as exc:
        log.warning("Scan %s's snapshot was not taken (%s); the sweep takes it", scan_id, exc)
        return None


def snapshots_missing(older_than: datetime.datetime) -> list[int]:
    """The newest finished full scan, when it finished before `older_than` and has no snapshot
    (its worker stopped, or lost the database, between the flags and the figures). Only the
    newest: an older scan's figures would be superseded by the time they were taken."""
    newest = (
        Scan.objects.filter(kind=ScanKind.FULL, state=ScanState.DONE)
        .order_by("-finished_at", "-id")
        .values("pk", "finished_at")
        .first()
    )
    if newest is None or newest["finished_at"] is None or newest["finished_at"] >= older_than:
        return []
    if Snapshot.objects.filter(scan_id=newest["pk"]).exists():
        return []
    return [newest["pk"]]


# --- Running a scan, and the faults around it -------------------------------------------------


def _time_limit() -> int:
    return int(django_settings.ALIGNMENT_SCAN_TIME_LIMIT_SECONDS)


def _time_limit_message() -> str:
    return (
        f"Stopped after its time limit of {_time_limit()} seconds "
        "(ALIGNMENT_SCAN_TIME_LIMIT_SECONDS); nothing it changed was kept."
    )


def _is_statement_timeout(exc: BaseException) -> bool:
    """PostgreSQL cancelled a statement at the scan's deadline (statement_timeout)."""
    try:
        from psycopg import errors as pg_errors
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(exc.__cause__, pg_errors.QueryCanceled)


def _claim(
    scan_id: int | None, kind: str, *, task_id: str = "", requested_by: Any = None
) -> Scan | None:
    """Mark the scan running and count the attempt; create the record for a new task (or for a
    call without one). None when there is nothing to run: the scan is finished (a redelivered
    or late message must not run it again) or has used up its attempts (recorded as failed)."""
    now = timezone.now()
    if scan_id is None and task_id:
        # A redelivered or retried message carries the same task id: the same record.
        scan, created = Scan.objects.get_or_create(
            task_id=task_id,
            defaults={
                "kind": kind,
                "state": ScanState.RUNNING,
                "started_at": now,
                "requested_by": requested_by,
                "attempts": 1,
            },
        )
        if created:
            return scan
        scan_id = scan.pk
    elif scan_id is None:
        return Scan.objects.create(
            kind=kind,
            state=ScanState.RUNNING,
            started_at=now,
            requested_by=requested_by,
            attempts=1,
        )
    changes: dict[str, Any] = {
        "state": ScanState.RUNNING,
        "started_at": now,
        "attempts": F("attempts") + 1,
        "error": "",
    }
    if task_id:
        changes["task_id"] = task_id
    if not Scan.objects.filter(pk=scan_id, state__in=UNFINISHED_STATES).update(**changes):
        return None
    scan = Scan.objects.get(pk=scan_id)
    if scan.attempts > int(django_settings.ALIGNMENT_SCAN_MAX_ATTEMPTS):
        _fail(
            scan,
            f"Gave up after {scan.attempts - 1} attempts: each time, its worker stopped or lost "
            "the database before the scan finished. Nothing any of them changed was kept.",
        )
        return None
    return scan


def _fail(scan: Scan, message: str) -> None:
    # Only an unfinished scan: a late error (a duplicate message) must not overwrite a finished
    # scan's result or the first failure's reason.
    Scan.objects.filter(pk=scan.pk, state__in=UNFINISHED_STATES).update(
        state=ScanState.FAILED, finished_at=timezone.now(), error=message[:2000]
    )
    scan.refresh_from_db()


def _requeue(scan: Scan, message: str) -> None:
    """Back to queued, saying why: its task tries again shortly."""
    Scan.objects.filter(pk=scan.pk, state=ScanState.RUNNING).update(
        state=ScanState.QUEUED, error=message[:2000]
    )
    scan.refresh_from_db()


@contextmanager
def _failure_recorded(scan: Scan, *, busy_requeue: bool) -> Iterator[None]:
    """Around a scan's lock and transaction: record why it stopped (after the rollback, so the
    record stays), then let the exception propagate. A lost database is not recorded (there is
    nowhere to write it): it becomes DatabaseUnavailable, which the task retries."""
    try:
        yield
    except locks.ScanBusy as busy:
        if busy_requeue:
            log.info("Scan %s waits: %s", scan.pk, busy)
            _requeue(scan, f"Waiting: {busy}; it tries again shortly.")
        else:
            log.warning("Scan %s skipped: %s", scan.pk, busy)
            _fail(scan, f"{SCAN_SKIPPED_PREFIX}{busy}")
        raise
    except (ScanTimedOut, SoftTimeLimitExceeded) as exc:
        log.warning("Scan %s stopped at its time limit", scan.pk)
        _fail(scan, _time_limit_message())
        raise ScanTimedOut(_time_limit_message()) from exc
    except (OperationalError, InterfaceError) as exc:
        if _is_statement_timeout(exc):
            log.warning("Scan %s stopped at its time limit", scan.pk)
            _fail(scan, _time_limit_message())
            raise ScanTimedOut(_time_limit_message()) from exc
        # The broken connection is dropped by the atomic block's failed rollback, or by Celery
        # after the task (close_if_unusable_or_obsolete); the retry opens a new one.
        log.warning("Scan %s lost the database: %s", scan.pk, exc)
        raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        log.exception("Scan %s failed", scan.pk)
        _fail(scan, f"{type(exc).__name__}: {exc}")
        raise


def _per_rule(outcome: Outcome) -> dict[str, dict[str, int]]:
    return {
        code: {"opened": result.opened, "resolved": result.resolved}
        for code, result in outcome.by_rule.items()
    }


def _finish(scan: Scan, outcome: Outcome, now: datetime.datetime, *, full: bool) -> None:
    """Record the scan's counts and mark it done, with the time it stamped on the flags it
    opened (their people are told after it commits; having opened none, it is told already).
    A full scan also records how many flags each rule has open (a count over the whole table,
    so a re-check leaves it out)."""
    per_rule = _per_rule(outcome)
    if full:
        from .selectors import open_flag_counts

        open_by_rule, _by_severity = open_flag_counts()
        per_rule = {
            code: {
                "open": open_by_rule.get(code, 0),
                **per_rule.get(code, {"opened": 0, "resolved": 0}),
            }
            for code in RULES
        }
    Scan.objects.filter(pk=scan.pk).update(
        state=ScanState.DONE,
        finished_at=timezone.now(),
        opened=outcome.opened,
        resolved=outcome.resolved,
        per_rule=per_rule,
        evaluated_at=now,
        told_at=None if outcome.opened else now,
    )


# Memory for the scan's sorts and hashes (anti-joins over every flag of a rule), for this
# transaction only; PostgreSQL's default of 4 MB sends large ones to disk.
SCAN_WORK_MEM = "64MB"


def scan_session_settings(cursor: Any) -> None:
    """What a scan's transaction runs with on PostgreSQL (bench gives the raw-SQL oracle the
    same): more working memory, and no JIT compilation — the scan's statements are costed
    high enough for PostgreSQL to JIT-compile them, which at 100,000 projects took longer
    than it saved (the match statement 5.4 s with it, 3.9 s without; the snapshot's
    aggregates three quarters of their time), as they run once each."""
    cursor.execute(
        "SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true)",
        [SCAN_WORK_MEM],
    )


def _limit_statements(deadline: float) -> None:
    """On PostgreSQL, no statement of this transaction may run past the scan's deadline: the
    limit holds even while Python waits on a long statement (and on any worker pool). Also
    gives the transaction the scan's settings (scan_session_settings)."""
    if connection.vendor != "postgresql":
        return
    remaining_ms = max(int((deadline - time.monotonic()) * 1000), 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{remaining_ms}ms"])
        scan_session_settings(cursor)


def _run(scan: Scan, scope: Scope, *, busy_requeue: bool = False) -> Scan | None:
    """Evaluate `scope` and finish the scan, in one locked transaction, within the time limit.
    None when, once it had the lock, the scan was no longer running: another delivery of the
    same message finished it, or the sweep ended it."""
    deadline = time.monotonic() + _time_limit()
    with (
        _failure_recorded(scan, busy_requeue=busy_requeue),
        locks.scan_lock(deadline),
        transaction.atomic(),
    ):
        locks.lock_in_transaction(deadline)
        _limit_statements(deadline)
        # The row lock also keeps the sweep off this scan until it commits.
        still_running = Scan.objects.select_for_update().filter(pk=scan.pk, state=ScanState.RUNNING)
        if not list(still_running.values_list("pk", flat=True)):
            return None
        now = timezone.now()
        outcome = evaluate(scope, now=now, deadline=deadline)
        _finish(scan, outcome, now, full=scope.is_full)
        if outcome.opened:
            # Who hears of the flags it opened: once it has committed (notify.tell_scan).
            transaction.on_commit(partial(notify.queue_tell_scan, scan.pk))
    scan.refresh_from_db()
    return scan


def stale_running_message() -> str:
    seconds = int(django_settings.ALIGNMENT_SCAN_STALE_SECONDS)
    return (
        "Its worker stopped while running it (killed, restarted, or cut off from the database "
        f"or the task queue) and no worker took it up again within {seconds} seconds. Nothing "
        "it changed was kept: a scan writes in one transaction. The next scan brings the flags "
        "up to date."
    )


def stale_queued_message() -> str:
    minutes = max(1, int(django_settings.ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS) // 60)
    return (
        f"No worker started it within {minutes} minute{'s' if minutes != 1 else ''}: its task "
        "message was lost (the task queue restarted?) or no worker is running. Nothing was "
        "changed; start another scan, or wait for the periodic one."
    )


def sweep_stale_scans(*, now: datetime.datetime | None = None) -> int:
    """End the scans that can no longer finish, with the reason; returns how many.

    - `running` longer than ALIGNMENT_SCAN_STALE_SECONDS: past the hard time limit no task is
      still running it, and past the broker's visibility timeout (plus two of its checks) a
      message whose worker died would have been handed to another worker, resetting the start.
    - `queued` (or waiting to retry) for longer than ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS: its
      message is lost. Should it turn up after all, the claim refuses to run a failed scan.
    """
    now = now or timezone.now()
    running_cutoff = now - datetime.timedelta(
        seconds=int(django_settings.ALIGNMENT_SCAN_STALE_SECONDS)
    )
    queued_cutoff = now - datetime.timedelta(
        seconds=int(django_settings.ALIGNMENT_SCAN_QUEUE_TIMEOUT_SECONDS)
    )
    ended = Scan.objects.filter(state=ScanState.RUNNING, started_at__lt=running_cutoff).update(
        state=ScanState.FAILED, finished_at=now, error=stale_running_message()
    )
    ended += Scan.objects.filter(
        Q(started_at__isnull=True, created_at__lt=queued_cutoff) | Q(started_at__lt=queued_cutoff),
        state=ScanState.QUEUED,
    ).update(state=ScanState.FAILED, finished_at=now, error=stale_queued_message())
    if ended:
        log.warning("Ended %s scan(s) that could no longer finish", ended)
    return ended


def give_up(*, task_id: str, scan_id: int | None, exc: BaseException) -> None:
    """A scan task stopped for good (retries used up, or an error outside the scan itself):
    record why on its scan, if that is still unfinished. Best effort: with the database still
    gone, the sweep ends the scan later."""
    if isinstance(exc, locks.ScanBusy):
        message = f"{SCAN_SKIPPED_PREFIX}{exc}"
    elif isinstance(exc, SoftTimeLimitExceeded | ScanTimedOut):
        message = _time_limit_message()
    elif isinstance(exc, DatabaseUnavailable):
        message = f"Gave up: the database stayed unreachable ({exc}). Nothing was changed."
    else:
        message = f"{type(exc).__name__}: {exc}"
    which = Q(task_id=task_id) if task_id else Q(pk__in=[])
    if scan_id is not None:
        which |= Q(pk=scan_id)
    try:
        Scan.objects.filter(which, state__in=UNFINISHED_STATES).update(
            state=ScanState.FAILED, finished_at=timezone.now(), error=message[:2000]
        )
    except (OperationalError, InterfaceError):
        log.warning("Could not record why the scan task %s stopped; the sweep will", task_id)


def scan_full(
    *,
    scan_id: int | None = None,
    task_id: str = "",
    requested_by: Any = None,
    busy_requeue: bool = False,
    snapshot: bool = True,
) -> Scan | None:
    """Run the whole catalogue over the whole portfolio in one transaction, then, once that
    has committed, take the scan's snapshot in another (`take_snapshot`; `snapshot=False`
    leaves that to the caller, as the bench does to time the two apart). Returns the scan, or
    None when there was nothing to run (the scan named by `scan_id` or `task_id` is
    finished)."""
    sweep_stale_scans()
    scan = _claim(scan_id, ScanKind.FULL, task_id=task_id, requested_by=requested_by)
    if scan is None:
        return None
    scan = _run(scan, Scope(), busy_requeue=busy_requeue)
    if scan is not None and scan.state == ScanState.DONE and snapshot:
        take_snapshot(scan.pk)
    return scan


def scan_projects(
    project_ids: Sequence[int],
    *,
    left_groups: Mapping[str, Sequence[int]] | None = None,
    task_id: str = "",
    busy_requeue: bool = False,
) -> Scan | None:
    """Re-check the given projects and their features, plus the rules about groups of projects
    for the groups they are in and the groups they just left (`left_groups`, per subject type:
    what an edit moved them out of). No snapshot: that is the full scan's job. None when the
    task's scan is already finished (a redelivered message)."""
    ids = tuple(sorted(set(project_ids)))
    left = {
        str(kind): tuple(sorted({int(pk) for pk in pks}))
        for kind, pks in (left_groups or {}).items()
        if kind in GROUP_SUBJECT_TYPES
    }
    scan = _claim(None, ScanKind.PARTIAL, task_id=task_id)
    if scan is None:
        return None
    scope = Scope(project_ids=ids, left_groups=left)
    return _run(scan, scope, busy_requeue=busy_requeue)
