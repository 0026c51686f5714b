"""Reads for the alignment engine: flags a user may see, headline figures, the trend."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from core.money import to_money
from core.permissions import visible_to
from projects.models import LIVE_PROJECT_STATUSES, CRMProject, Feature, FeatureStatus
from projects.selectors import BUDGET_CAPABILITY, BUDGET_TOTAL
from projects.trace import feature_traceable_exists, project_traceable_exists

from .models import SCAN_SKIPPED_PREFIX, Flag, FlagState, Scan, Severity, Snapshot

# What dashboards count as "open": not fixed yet. Acknowledged flags are still problems
# (someone is on it); waived ones are accepted risks until their expiry.
OPEN_STATES = [FlagState.OPEN, FlagState.ACKNOWLEDGED]

_ZERO = Value(Decimal("0"), output_field=DecimalField(max_digits=16, decimal_places=2))


def flags_visible_to(user: Any) -> QuerySet[Flag]:
    """Every flag the user may see (all of them with a role), with its project joined."""
    return visible_to(Flag.objects.select_related("project", "acknowledged_by", "waived_by"), user)


def subject_flags_needing_attention(
    user: Any, subject_type: str, subject_id: int
) -> QuerySet[Flag]:
    """One subject's flags that still need attention (open or acknowledged), worst first."""
    return (
        flags_visible_to(user)
        .filter(subject_type=subject_type, subject_id=subject_id, state__in=OPEN_STATES)
        .order_by("severity_rank", "rule", "id")
    )


def project_flags_needing_attention(user: Any, project: Any) -> QuerySet[Flag]:
    """A project's flags and its features' that still need attention, worst first."""
    return (
        flags_visible_to(user)
        .filter(project=project, state__in=OPEN_STATES)
        .order_by("severity_rank", "rule", "subject_label", "id")
    )


def _pct(part: int | Decimal, whole: int | Decimal) -> int:
    if not whole:
        return 0
    return round(Decimal(part) * 100 / Decimal(whole))


def portfolio_figures() -> dict[str, Any]:
    """Traceability of live projects (count and budget) and their features. Two queries."""
    projects = (
        CRMProject.objects.filter(status__in=LIVE_PROJECT_STATUSES)
        .alias(traceable=project_traceable_exists())
        .aggregate(
            total=Count("pk"),
            traced=Count("pk", filter=Q(traceable=True)),
            budget_total=Coalesce(Sum(BUDGET_TOTAL), _ZERO),
            budget_traced=Coalesce(Sum(BUDGET_TOTAL, filter=Q(traceable=True)), _ZERO),
            budget_technology=Coalesce(Sum("budget_technology"), _ZERO),
            budget_capability=Coalesce(Sum(BUDGET_CAPABILITY), _ZERO),
        )
    )
    features = (
        Feature.objects.filter(project__status__in=LIVE_PROJECT_STATUSES)
        .exclude(status=FeatureStatus.DROPPED)
        .alias(traceable=feature_traceable_exists())
        .aggregate(total=Count("pk"), traced=Count("pk", filter=Q(traceable=True)))
    )
    # SQLite sums decimals as REAL (0.1 + 0.2 comes back as 0.300000000000000): to the cent.
    budgets = {key: to_money(value) for key, value in projects.items() if key.startswith("budget")}
    return {
        "projects_total": projects["total"],
        "projects_traced": projects["traced"],
        "projects_traced_pct": _pct(projects["traced"], projects["total"]),
        "budget_total": budgets["budget_total"],
        "budget_traced": budgets["budget_traced"],
        "budget_traced_pct": _pct(budgets["budget_traced"], budgets["budget_total"]),
        "budget_technology": budgets["budget_technology"],
        "budget_capability": budgets["budget_capability"],
        "features_total": features["total"],
        "features_traced": features["traced"],
        "features_traced_pct": _pct(features["traced"], features["total"]),
    }


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
    """The headline figures dashboards and the API show, computed live. Four queries."""
    summary = portfolio_figures()
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


def snapshots_trend(limit: int = 30) -> list[Snapshot]:
    """The newest `limit` snapshots, oldest first, for trend charts."""
    newest = list(Snapshot.objects.order_by("-taken_at", "-id")[:limit])
    newest.reverse()
    return newest
