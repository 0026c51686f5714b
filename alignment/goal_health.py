"""Goal health: red, amber or green per business goal and per business strategy, with the
reasons — the one place the rule is written.

What counts (thresholds are settings, defaults here):

- **KPIs** (goals only; a business strategy is judged by its goal's KPIs on the goal, not
  again on itself). Red when a KPI is past its due date short of its target. Amber when a KPI
  has no reading yet, or is due within `GOAL_HEALTH_KPI_DUE_SOON_DAYS` (90) days and has not
  covered `GOAL_HEALTH_KPI_HALFWAY_PCT` (50) per cent of the way from baseline to target.
  A goal without KPIs is amber: nothing measures it.
- **Projects**: the live projects linked under the node through an active business strategy,
  each judged by its newest check-in. Red when one is off track; amber when one is at risk.
- **Critical flags**: open (or acknowledged) critical flags on those projects, on the node
  itself and, for a goal, on its business strategies. Any one makes it red.

Red beats amber beats green; every red and amber finding is a reason, and a green verdict
says what was checked. Set-based: for the ids asked (a page of goals), a fixed number of
grouped queries, whatever their number. The goals and strategies pages and API compute it
live for their page; a full scan records it for every goal and business strategy in its
snapshot (`recorded`), where the strategy map and the dashboard read it, like the rest of
their figures, so they never read the portfolio per request.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone

from goals.health import AMBER, GREEN, RED, Verdict
from goals.models import KPI, BusinessGoal, Direction
from projects.models import LIVE_PROJECT_STATUSES, Health, ProjectCheckIn, ProjectLink
from strategies.models import BusinessStrategy, StrategyStatus

from .models import Flag, Severity
from .selectors import OPEN_STATES

KPI_DUE_SOON_DAYS = 90
KPI_HALFWAY_PCT = 50


def kpi_due_soon_days() -> int:
    return int(getattr(settings, "GOAL_HEALTH_KPI_DUE_SOON_DAYS", KPI_DUE_SOON_DAYS))


def kpi_halfway_pct() -> int:
    return int(getattr(settings, "GOAL_HEALTH_KPI_HALFWAY_PCT", KPI_HALFWAY_PCT))


# How a project's link reaches each kind of node (only through active business strategies).
_PATHS = {
    "goal": "crm_strategy__serves__business_strategy__goal_id",
    "business_strategy": "crm_strategy__serves__business_strategy_id",
}
_LIVE = [str(status) for status in LIVE_PROJECT_STATUSES]
# Up to this many nodes, their projects' check-ins and flags are read alone (_project_figures).
FEW_NODES = 10
PAIRS_WORK_MEM = "16MB"


def _progress(row: Any) -> int:
    span = row["target"] - row["baseline"]
    done = (row["current"] - row["baseline"]) / span * 100
    return max(0, min(100, round(done)))


def _kpi_findings(goal_ids: list[int], today: datetime.date) -> dict[int, dict[str, list[str]]]:
    """Per goal: red and amber KPI findings and the count of KPIs on track. One query."""
    found: dict[int, dict[str, list[str]]] = defaultdict(lambda: {RED: [], AMBER: [], GREEN: []})
    soon = today + datetime.timedelta(days=kpi_due_soon_days())
    halfway = kpi_halfway_pct()
    rows = (
        KPI.objects.filter(goal_id__in=goal_ids)
        .order_by("goal_id", "name", "id")
        .values("goal_id", "name", "baseline", "target", "current", "direction", "due_date")
    )
    for row in rows:
        out = found[row["goal_id"]]
        name = row["name"]
        if row["current"] is None:
            out[AMBER].append(f"KPI “{name}” has no reading yet.")
            continue
        progress = _progress(row)
        reached = (
            row["current"] >= row["target"]
            if row["direction"] == Direction.INCREASE
            else row["current"] <= row["target"]
        )
        due = row["due_date"]
        if due is not None and due < today and not reached:
            out[RED].append(
                f"KPI “{name}” was due on {due:%d %b %Y} and is at {progress}% of its target."
            )
        elif due is not None and due <= soon and not reached and progress < halfway:
            out[AMBER].append(
                f"KPI “{name}” is due on {due:%d %b %Y} and only {progress}% of the way to its "
                f"target (under {halfway}%)."
            )
        else:
            out[GREEN].append(name)
    return found


def _project_figures(wanted: Mapping[str, list[int]]) -> dict[str, dict[int, Any]]:
    """Per kind and node of `wanted` ({kind: ids}): live projects under it, how many are off
    track or at risk at their newest check-in, and the open critical flags on them. One
    statement for every kind: the links read once for the (project, node of each kind), their
    distinct (kind, node, project) triples hash-joined to every project's newest check-in (on
    PostgreSQL each project's first entry in the `check_in_newest` index; elsewhere one window
    over the check-ins) and open critical flag count (one group over those flags).
    (Grouping the links joined to every flag, with a per-row look-up of the newest check-in,
    made 400,000 look-ups for 100,000 projects; a statement per kind read the links and
    computed the projects' figures once per kind; restricting the check-ins and flags to the
    linked projects first made PostgreSQL, misjudging that set's size, look each project up
    in both: 1.6 s, against 1.0 s then, at 100,000 projects.) For up to FEW_NODES nodes — a
    goal's or a business strategy's own page — the check-ins and flags are restricted to their
    projects after all: 13 ms for one business strategy and 40 ms for one goal at 100,000
    projects, against 125-150 ms for the whole pass; every goal together takes about 270 ms,
    each project's newest check-in read from its index."""
    found: dict[str, dict[int, Any]] = {kind: {} for kind in wanted}
    wanted = {kind: ids for kind, ids in wanted.items() if ids}
    if not wanted:
        return found
    # The links' (project, node of each kind) once, whatever the number of kinds.
    reach = Q()
    for kind, ids in wanted.items():
        reach |= Q(**{f"{_PATHS[kind]}__in": ids})
    links = (
        ProjectLink.objects.filter(
            reach,
            project__status__in=_LIVE,
            crm_strategy__serves__business_strategy__status=StrategyStatus.ACTIVE,
        )
        .annotate(**{f"node_{kind}": F(_PATHS[kind]) for kind in wanted})
        .values("project_id", *(f"node_{kind}" for kind in wanted))
        .order_by()
    )
    links_sql, params = links.query.sql_with_params()
    params = list(params)
    quote = connection.ops.quote_name
    parts = []
    for kind, ids in wanted.items():
        column = quote(f"node_{kind}")
        marks = ", ".join(["%s"] * len(ids))
        parts.append(
            f"SELECT DISTINCT %s AS kind, {column} AS node, project_id FROM links "  # noqa: S608
            f"WHERE {column} IN ({marks})"
        )
        params += [kind, *ids]
    # A few nodes (a goal's or a strategy's page) reach a small part of the portfolio: their
    # projects' check-ins and flags are read alone. Many (a list of every goal) reach most of
    # it, and one pass over all check-ins and flags costs less than a look-up per project.
    few = sum(len(ids) for ids in wanted.values()) <= FEW_NODES
    narrow_check_ins = "WHERE c.project_id IN (SELECT project_id FROM pairs)" if few else ""
    narrow_flags = "AND f.project_id IN (SELECT project_id FROM pairs)" if few else ""
    check_ins = quote(ProjectCheckIn._meta.db_table)
    flags = quote(Flag._meta.db_table)
    states = ", ".join(["%s"] * len(OPEN_STATES))
    if connection.vendor == "postgresql":
        # Each project's first entry in the `check_in_newest` index, read in its order.
        newest = f"""
            SELECT DISTINCT ON (c.project_id) c.project_id, c.health FROM {check_ins} c
            {narrow_check_ins}
            ORDER BY c.project_id, c.checked_in_on DESC, c.id DESC"""  # noqa: S608
    else:
        newest = f"""
            SELECT x.project_id, x.health FROM (
                SELECT c.project_id, c.health, ROW_NUMBER() OVER (
                    PARTITION BY c.project_id ORDER BY c.checked_in_on DESC, c.id DESC
                ) AS position
                FROM {check_ins} c
                {narrow_check_ins}
            ) x
            WHERE x.position = 1"""  # noqa: S608
    sql = f"""
        WITH links AS ({links_sql}),
        pairs AS ({" UNION ALL ".join(parts)}),
        newest AS ({newest}),
        critical AS (
            SELECT f.project_id, COUNT(*) AS n FROM {flags} f
            WHERE f.state IN ({states}) AND f.severity = %s AND f.project_id IS NOT NULL
              {narrow_flags}
            GROUP BY f.project_id
        )
        SELECT p.kind, p.node, COUNT(*),
               SUM(CASE WHEN nw.health = %s THEN 1 ELSE 0 END),
               SUM(CASE WHEN nw.health = %s THEN 1 ELSE 0 END),
               SUM(COALESCE(cr.n, 0))
        FROM pairs p
        LEFT JOIN newest nw ON nw.project_id = p.project_id
        LEFT JOIN critical cr ON cr.project_id = p.project_id
        GROUP BY p.kind, p.node
    """  # noqa: S608 - table names quoted by Django, values passed as parameters
    params += [
        *[str(state) for state in OPEN_STATES],
        str(Severity.CRITICAL),
        str(Health.OFF_TRACK),
        str(Health.AT_RISK),
    ]
    # PostgreSQL: a transaction of its own for the setting below. Not on SQLite, where a
    # transaction takes the write lock (IMMEDIATE) and would wait behind a running scan.
    postgresql = connection.vendor == "postgresql"
    with transaction.atomic() if postgresql else nullcontext(), connection.cursor() as cursor:
        if postgresql:
            # Every goal's distinct (node, project) pairs are a hash of 100,000s of rows: room
            # for it in memory (4 MB sent it to disk), for this transaction only, and never
            # less than it had (a scan's snapshot runs with more).
            cursor.execute(
                "SELECT CASE WHEN pg_size_bytes(current_setting('work_mem')) < pg_size_bytes(%s)"
                " THEN set_config('work_mem', %s, true) END",
                [PAIRS_WORK_MEM, PAIRS_WORK_MEM],
            )
        cursor.execute(sql, params)
        for kind, node, projects, off_track, at_risk, critical in cursor.fetchall():
            found[kind][node] = {
                "projects": projects,
                "off_track": int(off_track or 0),
                "at_risk": int(at_risk or 0),
                "critical": int(critical or 0),
            }
    return found


def _own_critical_flags(kind: str, ids: list[int]) -> dict[int, int]:
    """Open critical flags on the nodes themselves (and, for goals, on their business
    strategies). One or two queries."""
    counts: dict[int, int] = defaultdict(int)
    open_critical = Flag.objects.filter(state__in=OPEN_STATES, severity=Severity.CRITICAL)
    rows: Any = (
        open_critical.filter(subject_type=kind, subject_id__in=ids)
        .values("subject_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        counts[row["subject_id"]] += row["n"]
    if kind == "goal":
        goal_of = BusinessStrategy.objects.filter(pk=OuterRef("subject_id")).values("goal_id")
        rows = (
            open_critical.filter(
                subject_type="business_strategy",
                subject_id__in=BusinessStrategy.objects.filter(goal_id__in=ids).values("pk"),
            )
            .annotate(goal=Subquery(goal_of))
            .values("goal")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in rows:
            counts[row["goal"]] += row["n"]
    return counts


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def verdicts_for(
    kind: str,
    ids: list[int],
    *,
    today: datetime.date | None = None,
    figures: Mapping[int, Any] | None = None,
) -> dict[int, Verdict]:
    """The verdict of every node in `ids` (goals or business strategies); `figures`, their
    projects' figures when read already (`_project_figures`)."""
    if kind not in _PATHS:
        raise ValueError(f"No health for {kind!r}.")
    today = today or timezone.localdate()
    kpis = _kpi_findings(ids, today) if kind == "goal" else {}
    projects = figures if figures is not None else _project_figures({kind: ids})[kind]
    own = _own_critical_flags(kind, ids)
    result: dict[int, Verdict] = {}
    for pk in ids:
        red: list[str] = []
        amber: list[str] = []
        green: list[str] = []
        if kind == "goal":
            found = kpis.get(pk)
            if found is None:
                amber.append("No KPI measures this goal.")
            else:
                red += found[RED]
                amber += found[AMBER]
                if found[GREEN]:
                    green.append(f"{_plural(len(found[GREEN]), 'KPI')} on track.")
        figures = projects.get(pk)
        live = figures["projects"] if figures else 0
        if figures and figures["off_track"]:
            red.append(
                f"{figures['off_track']} of {_plural(live, 'live project')} off track at the "
                "newest check-in."
            )
        if figures and figures["at_risk"]:
            amber.append(
                f"{figures['at_risk']} of {_plural(live, 'live project')} at risk at the newest "
                "check-in."
            )
        flags = (figures["critical"] if figures else 0) + own.get(pk, 0)
        if flags:
            red.append(f"{_plural(flags, 'open critical flag')}.")
        if not red and not amber:
            green.append(
                f"{_plural(live, 'live project')}, none at risk or off track; no open critical "
                "flags."
                if live
                else "No live project under it yet; no open critical flags."
            )
        if red:
            result[pk] = Verdict(RED, tuple(red + amber))
        elif amber:
            result[pk] = Verdict(AMBER, tuple(amber))
        else:
            result[pk] = Verdict(GREEN, tuple(green))
    return result


def goal_verdicts(ids: list[int]) -> dict[int, Verdict]:
    return verdicts_for("goal", ids)


def business_strategy_verdicts(ids: list[int]) -> dict[int, Verdict]:
    return verdicts_for("business_strategy", ids)


def recorded() -> dict[str, dict[str, list[Any]]]:
    """Every goal's and business strategy's verdict, JSON-ready for a scan's snapshot:
    {kind: {"id": [health, [reasons]]}}. A fixed number of queries."""
    ids = {
        "goal": list(BusinessGoal.objects.values_list("pk", flat=True)),
        "business_strategy": list(BusinessStrategy.objects.values_list("pk", flat=True)),
    }
    figures = _project_figures(ids)
    return {
        kind: {
            str(pk): [verdict.health, list(verdict.reasons)]
            for pk, verdict in (
                verdicts_for(kind, pks, figures=figures[kind]) if pks else {}
            ).items()
        }
        for kind, pks in ids.items()
    }


def stored(figures: dict[str, Any] | None) -> dict[str, dict[int, Verdict]]:
    """recorded() as a snapshot kept it; empty before a scan recorded it."""
    kept = (figures or {}).get("goal_health") or {}
    return {
        kind: {int(pk): Verdict(health, tuple(reasons)) for pk, (health, reasons) in nodes.items()}
        for kind, nodes in kept.items()
    }
