"""Reads for the alignment engine: flags a user may see, headline figures, the trend."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from core.money import to_money
from core.permissions import visible_to
from projects.models import (
    LIVE_PROJECT_STATUSES,
    CRMProject,
    Feature,
    FeatureStatus,
    ProjectUserGroup,
)
from projects.selectors import BUDGET_CAPABILITY, BUDGET_TOTAL
from projects.trace import project_traceable_exists, traceable_feature_links

from .models import (
    SCAN_SKIPPED_PREFIX,
    Flag,
    FlagState,
    Scan,
    ScanKind,
    ScanState,
    Severity,
    Snapshot,
    SubjectType,
)

# What dashboards count as "open": not fixed yet. Acknowledged flags are still problems
# (someone is on it); waived ones are accepted risks until their expiry.
OPEN_STATES = [FlagState.OPEN, FlagState.ACKNOWLEDGED]


def flags_visible_to(user: Any) -> QuerySet[Flag]:
    """Every flag the user may see (all of them with a role), with its project joined."""
    return visible_to(Flag.objects.select_related("project", "acknowledged_by", "waived_by"), user)


# How the inbox groups flags: the column each group is, and a group's key for "no project".
FLAG_GROUPINGS = {"rule": "rule", "project": "project_id"}
NO_PROJECT = "none"


def flag_groups(flags: QuerySet[Flag], by: str) -> QuerySet[Any]:
    """The filtered `flags` grouped by rule or by project: one row per group with its `count`
    and its `worst` severity rank (worst first, then the largest groups). One GROUP BY the
    database answers; the caller reads a page of groups, never the flags themselves."""
    column = FLAG_GROUPINGS[by]
    groups = flags.order_by().values(column).annotate(count=Count("id"), worst=Min("severity_rank"))
    if by == "rule":
        # The advice is the same for every flag of a rule (its threshold filled in): shown
        # once per group instead of on every row.
        groups = groups.annotate(advice=Max("message"))
    return groups.order_by("worst", "-count", column)


def flags_of_group(flags: QuerySet[Flag], by: str, key: str) -> QuerySet[Flag] | None:
    """The filtered `flags` of one group (a rule's code, a project's id or "none"); None for a
    key that cannot name a group."""
    if by == "rule":
        return flags.filter(rule=key)
    if key == NO_PROJECT:
        return flags.filter(project__isnull=True)
    if key.isdigit() and 0 < int(key) < 2**63:
        return flags.filter(project_id=int(key))
    return None


def full_scan_in_progress() -> Scan | None:
    """The newest full scan still queued or running, if any (the inbox follows it)."""
    return (
        Scan.objects.filter(kind=ScanKind.FULL, state__in=[ScanState.QUEUED, ScanState.RUNNING])
        .order_by("-id")
        .first()
    )


def subject_flags_needing_attention(
    user: Any, subject_type: str, subject_id: int
) -> QuerySet[Flag]:
    """One subject's flags that still need attention (open or acknowledged), worst first."""
    return (
        flags_visible_to(user)
        .filter(subject_type=subject_type, subject_id=subject_id, state__in=OPEN_STATES)
        .order_by("severity_rank", "rule", "id")
    )


def concerning_project(project: Any) -> Q:
    """The flags about a project: its own, its features', and those of the user groups it
    affects (a change collision is about every project whose go-live lands on the group, so
    its manager sees it where they plan the go-live). The project's page lists those that
    need attention; the flag inbox's `project` filter (pages and API) selects the same set, in
    any state its `state` filter asks for."""
    its_groups = ProjectUserGroup.objects.filter(project=project).values("user_group_id")
    return Q(project=project) | Q(subject_type=SubjectType.USER_GROUP, subject_id__in=its_groups)


def project_flags_needing_attention(user: Any, project: Any) -> QuerySet[Flag]:
    """A project's flags (concerning_project) that still need attention, worst first."""
    return (
        flags_visible_to(user)
        .filter(concerning_project(project), state__in=OPEN_STATES)
        .order_by("severity_rank", "rule", "subject_label", "id")
    )


def _pct(part: int | Decimal, whole: int | Decimal) -> int:
    if not whole:
        return 0
    return round(Decimal(part) * 100 / Decimal(whole))


def _headline(counts: dict[str, Any]) -> dict[str, Any]:
    """The headline counts and budgets with their whole-percent shares."""
    return {
        **counts,
        "projects_traced_pct": _pct(counts["projects_traced"], counts["projects_total"]),
        "budget_traced_pct": _pct(counts["budget_traced"], counts["budget_total"]),
        "features_traced_pct": _pct(counts["features_traced"], counts["features_total"]),
    }


@dataclass(frozen=True)
class FeatureTraceability:
    """The live portfolio's features (those of live projects, dropped ones left out): how many,
    how many trace, and the projects with the most that do not, worst first."""

    total: int
    traced: int
    # {"project_id", "title", "status", "total", "traced", "untraced"}, untraced > 0
    worst: list[dict[str, Any]]


def _live_features() -> QuerySet[Feature]:
    return Feature.objects.filter(project__status__in=LIVE_PROJECT_STATUSES).exclude(
        status=FeatureStatus.DROPPED
    )


def _worst(rows: list[tuple[Any, ...]], limit: int) -> list[dict[str, Any]]:
    return [
        {
            "project_id": pid,
            "title": title,
            "status": status,
            "total": total,
            "traced": total - untraced,
            "untraced": untraced,
        }
        for pid, title, status, total, untraced in rows[:limit]
        if untraced > 0
    ]


def feature_traceability(
    limit: int = 10, untraced: QuerySet[Any] | None = None
) -> FeatureTraceability:
    """Counted in one statement and one pass over the features: per live project its features
    and how many trace (a join to the distinct features with a traceable link, projects.trace —
    not a subquery per feature), the portfolio's totals as window sums over those rows, and the
    `limit` projects with the most untraced features.

    A full scan has just flagged the untraced features (rule `feature.untraced`: the live
    portfolio's features that do not trace, the same definition); its snapshot passes them as
    `untraced`, values `fid` and `pid` (feature and project): then three cheap queries count
    from those instead of joining every feature to every traceable link again."""
    project = connection.ops.quote_name(CRMProject._meta.db_table)
    if untraced is not None:
        untraced_sql, untraced_params = untraced.order_by().query.sql_with_params()
        # Only constants, a table name and the ORM's compiled SQL (values go as parameters).
        sql = (
            "SELECT u.pid, p.title, p.status, 0, u.n, SUM(u.n) OVER () FROM ("  # noqa: S608
            f"SELECT m.pid AS pid, COUNT(*) AS n FROM ({untraced_sql}) m GROUP BY m.pid"
            f") u JOIN {project} p ON p.id = u.pid ORDER BY u.n DESC, p.title, p.id LIMIT %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*untraced_params, max(limit, 1)])
            rows = cursor.fetchall()
        totals = dict(
            _live_features()
            .filter(project_id__in=[row[0] for row in rows[:limit]])
            .values("project_id")
            .annotate(n=Count("pk"))
            .order_by()
            .values_list("project_id", "n")
        )
        total = _live_features().count()
        worst = _worst([(r[0], r[1], r[2], totals.get(r[0], 0), r[4]) for r in rows], limit)
        return FeatureTraceability(
            total=total, traced=total - (int(rows[0][5]) if rows else 0), worst=worst
        )
    features_sql, features_params = (
        _live_features().values(fid=F("pk"), pid=F("project_id")).order_by().query.sql_with_params()
    )
    traced_sql, traced_params = (
        traceable_feature_links().values(tfid=F("feature_id")).order_by().distinct()
    ).query.sql_with_params()
    # Only constants, a table name and the ORM's compiled SQL (values go as parameters).
    sql = (
        "SELECT c.pid, p.title, p.status, c.total, c.total - c.traced, "  # noqa: S608
        "SUM(c.total) OVER (), SUM(c.traced) OVER () FROM ("
        "SELECT f.pid AS pid, COUNT(*) AS total, COUNT(t.tfid) AS traced "
        f"FROM ({features_sql}) f LEFT JOIN ({traced_sql}) t ON t.tfid = f.fid GROUP BY f.pid"
        f") c JOIN {project} p ON p.id = c.pid "
        "ORDER BY c.total - c.traced DESC, p.title, p.id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*features_params, *traced_params, max(limit, 1)])
        rows = cursor.fetchall()
    return FeatureTraceability(
        total=int(rows[0][5]) if rows else 0,
        traced=int(rows[0][6]) if rows else 0,
        worst=_worst([row[:5] for row in rows], limit),
    )


def live_budget_sums(untraced: QuerySet[Any] | None = None) -> dict[str, Any]:
    """The live projects' count and budgets, in total and for those that trace: two queries,
    read by both the headline (portfolio_figures) and the spend split (dashboard.spend_split),
    which a full scan records together. What traces is filtered on (a semi-join) rather than
    aggregated over (a subquery per row, three times slower at 1M features); amounts to the
    cent (SQLite sums decimals as REAL: 0.1 + 0.2 comes back as 0.300000000000000).

    A full scan's snapshot passes the live projects it flagged as not tracing (`untraced`, values
    `pid`): the traced ones are then the others (an anti-join to that small set) rather than
    those whose links climb the chain again."""
    live = CRMProject.objects.filter(status__in=LIVE_PROJECT_STATUSES)
    tech_only = Q(budget_technology__gt=0, capability=0)
    sums = live.annotate(capability=BUDGET_CAPABILITY).aggregate(
        total=Count("pk"),
        budget_total=Sum(BUDGET_TOTAL),
        technology=Sum("budget_technology"),
        people=Sum("budget_people"),
        process=Sum("budget_process"),
        training=Sum("budget_training"),
        incentives=Sum("budget_incentives"),
        technology_only=Count("pk", filter=tech_only),
    )
    traced = (
        live.filter(project_traceable_exists())
        if untraced is None
        else live.filter(~Exists(untraced.filter(pid=OuterRef("pk"))))
    )
    sums.update(
        traced.aggregate(
            traced=Count("pk"),
            budget_traced=Sum(BUDGET_TOTAL),
            traced_technology=Sum("budget_technology"),
            traced_capability=Sum(BUDGET_CAPABILITY),
        )
    )
    counts = ("total", "traced", "technology_only")
    return {
        key: (value or 0) if key in counts else to_money(value or Decimal("0"))
        for key, value in sums.items()
    }


def portfolio_figures(
    features: FeatureTraceability | None = None, sums: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Traceability of live projects (count and budget) and their features, computed over the
    whole portfolio: a full scan records it (engine._take_snapshot); pages read the snapshot.
    Three queries (none given the `features` the scan counted and the live_budget_sums())."""
    sums = sums or live_budget_sums()
    features = features or feature_traceability(limit=0)
    return _headline(
        {
            "projects_total": sums["total"],
            "projects_traced": sums["traced"],
            "features_total": features.total,
            "features_traced": features.traced,
            "budget_total": sums["budget_total"],
            "budget_traced": sums["budget_traced"],
            "budget_technology": sums["technology"],
            "budget_capability": sums["people"]
            + sums["process"]
            + sums["training"]
            + sums["incentives"],
        }
    )


HEADLINE_KEYS = [
    "projects_total",
    "projects_traced",
    "projects_traced_pct",
    "budget_total",
    "budget_traced",
    "budget_traced_pct",
    "budget_technology",
    "budget_capability",
    "features_total",
    "features_traced",
    "features_traced_pct",
]


def snapshot_figures(snapshot: Snapshot | None) -> dict[str, Any]:
    """The headline figures a full scan recorded (portfolio_figures() at the time), with
    `figures_as_of`: when. Every figure None before any full scan has finished."""
    if snapshot is None:
        return dict.fromkeys([*HEADLINE_KEYS, "figures_as_of"])
    return {
        **_headline(
            {
                "projects_total": snapshot.projects_total,
                "projects_traced": snapshot.projects_traced,
                "features_total": snapshot.features_total,
                "features_traced": snapshot.features_traced,
                "budget_total": snapshot.budget_total,
                "budget_traced": snapshot.budget_traced,
                # None on a snapshot older than these columns.
                "budget_technology": snapshot.budget_technology,
                "budget_capability": snapshot.budget_capability,
            }
        ),
        "figures_as_of": snapshot.taken_at,
    }


def latest_snapshot(*, with_figures: bool = True) -> Snapshot | None:
    """The newest full scan's snapshot (one indexed row); `with_figures=False` leaves out the
    dashboard's stored figures for readers that only need the headline."""
    snapshots = Snapshot.objects.order_by("-taken_at", "-id")
    if not with_figures:
        snapshots = snapshots.defer("figures")
    return snapshots.first()


def open_flag_counts() -> tuple[dict[str, int], dict[str, int]]:
    """Open flags by rule and by severity (every severity present, zero when none). One query."""
    by_rule: dict[str, int] = {}
    by_severity = dict.fromkeys(Severity.values, 0)
    rows = (
        Flag.objects.filter(state__in=OPEN_STATES)
        .order_by()
        .values("rule", "severity")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        by_rule[row["rule"]] = by_rule.get(row["rule"], 0) + row["n"]
        by_severity[row["severity"]] = by_severity.get(row["severity"], 0) + row["n"]
    return dict(sorted(by_rule.items())), by_severity


def alignment_summary() -> dict[str, Any]:
    """The headline figures dashboards and the API show: traceability as the latest full scan
    recorded it (`figures_as_of`; None before the first), open flags counted live (one indexed
    GROUP BY) and the last full scan. Three queries, none of them reading more than a handful
    of rows whatever the portfolio size."""
    return summary_from(latest_snapshot(with_figures=False))


def summary_from(snapshot: Snapshot | None) -> dict[str, Any]:
    """alignment_summary() for a snapshot the caller already has (None: no full scan yet)."""
    summary = snapshot_figures(snapshot)
    by_rule, by_severity = open_flag_counts()
    summary["open_flags_by_severity"] = by_severity
    summary["open_flags_by_rule"] = by_rule
    summary["open_flags_total"] = sum(by_severity.values())
    last = (
        Scan.objects.filter(kind="full")
        .exclude(state="queued")
        .exclude(error__startswith=SCAN_SKIPPED_PREFIX)
        .order_by("-created_at", "-id")
        .values("id", "state", "finished_at")
        .first()
    )
    summary["last_scan"] = last
    return summary


def snapshots_trend(days: int = 30) -> list[Snapshot]:
    """The trend over time: for each of the newest `days` days that had a full scan, that
    day's last snapshot (in the site's time zone), oldest first, with `day` set; days without
    a scan are absent. The database picks one row per day (a window over the day), so a day
    of a hundred scans still hands back one row."""
    day = TruncDate("taken_at", tzinfo=timezone.get_current_timezone())
    newest_of_day = Window(
        RowNumber(), partition_by=[day], order_by=[F("taken_at").desc(), F("id").desc()]
    )
    newest: list[Snapshot] = list(
        Snapshot.objects.defer("figures")
        .annotate(day=day, nth_of_day=newest_of_day)
        .filter(nth_of_day=1)
        .order_by("-taken_at", "-id")[:days]
    )
    newest.reverse()
    return newest
