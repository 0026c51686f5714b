"""The board pack: what an executive or a sponsor takes to the board, as a PDF.

Cover (date, reader, scope); the headline alignment figures with their trend over the last
full scans; investment by goal and technology vs capability spend; the critical flags by
project with why each holds (alignment.explain); the decisions needed (approvals waiting,
waivers expiring); the KPIs of each active goal with baseline, target and current.

Bounded whatever the portfolio: the figures are those the latest full scan stored (aggregated
in SQL by the scan), and every list is capped at PACK_LIST_CAP rows with "and N more" (its total
counted in the database), so making a pack costs a fixed handful of queries.

Rendered by WeasyPrint from the dashboard's own partials and SVG charts (templates/reports/
board_pack.html includes them) with a print stylesheet; fonts are the system's, and nothing is
fetched: the stylesheets are handed over as text and every other URL is refused.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

from django.contrib.staticfiles import finders
from django.db.models import Count, F
from django.template.loader import render_to_string
from django.utils import timezone

from alignment import dashboard
from alignment.charts import bars, percent, trend_chart
from alignment.explain import with_explanations
from alignment.models import Flag, FlagState, Severity
from alignment.selectors import OPEN_STATES, latest_snapshot, snapshots_trend, summary_from
from core.permissions import is_admin, user_roles, visible_to
from core.roles import Role
from goals.models import KPI, BusinessGoal, GoalStatus
from projects.models import LIVE_PROJECT_STATUSES, CRMProject, ProjectStatus

# Rows per list in the pack; the rest is counted ("and 12 more").
PACK_LIST_CAP = 15
# Waivers expiring within this many days are decisions needed.
WAIVER_HORIZON_DAYS = 30
TREND_DAYS = 30
TREND_SERIES = [
    ("projects_pct", "Projects traced", "series--projects"),
    ("budget_pct", "Budget traced", "series--budget"),
    ("features_pct", "Features traced", "series--features"),
]
# What the job's progress counts: the sections gathered, then the PDF laid out.
SECTIONS = ("headline", "investment", "flags", "decisions", "kpis", "layout")

BOARD_PACK_REFUSAL = "Only executives, sponsors and admins may get the board pack."
# The print stylesheet, handed to WeasyPrint; and the charts' colours, put inside each SVG
# (render_html): WeasyPrint styles an SVG only from inside it.
STYLESHEET = "reports/board_pack.css"
SVG_STYLESHEET = "reports/board_pack_svg.css"

Progress = Callable[[int, int], None]


def may_get_board_pack(user: Any) -> bool:
    """Executives, sponsors and admins (those who take decisions to a board)."""
    return is_admin(user) or bool({Role.EXECUTIVE.value, Role.SPONSOR.value} & user_roles(user))


def decides_everything(user: Any) -> bool:
    """Executives and admins decide on every project; a sponsor on the ones they sponsor."""
    return is_admin(user) or Role.EXECUTIVE.value in user_roles(user)


def live_project_count(user: Any) -> int:
    """How many live projects the pack covers for this reader (one count)."""
    return (
        visible_to(CRMProject.objects.all(), user).filter(status__in=LIVE_PROJECT_STATUSES).count()
    )


@dataclass
class Capped:
    """A list cut at PACK_LIST_CAP, with how many there are in all."""

    rows: list[Any]
    total: int

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.rows))


def _trend_rows() -> list[dict[str, Any]]:
    rows = []
    for snap in snapshots_trend(TREND_DAYS):
        by_severity = snap.open_by_severity or {}
        rows.append(
            {
                "day": snap.day,  # type: ignore[attr-defined]
                "taken_at": snap.taken_at,
                "projects_pct": percent(snap.projects_traced, snap.projects_total),
                "budget_pct": percent(snap.budget_traced, snap.budget_total),
                "budget_traced": snap.budget_traced,
                "budget_total": snap.budget_total,
                "features_pct": percent(snap.features_traced, snap.features_total),
                "open_flags": sum(int(n) for n in by_severity.values()),
                "critical": int(by_severity.get("critical", 0)),
            }
        )
    return rows


def _changes(trend: list[dict[str, Any]]) -> dict[str, int | None]:
    """Each headline share's change, in points, from the first day of the trend to the last."""
    if len(trend) < 2:
        return dict.fromkeys(("projects_pct", "budget_pct", "features_pct"))
    first, last = trend[0], trend[-1]
    return {key: last[key] - first[key] for key in ("projects_pct", "budget_pct", "features_pct")}


def _capped_figures(rows: list[dict[str, Any]]) -> Capped:
    return Capped(bars(rows[:PACK_LIST_CAP]), len(rows))


def _critical_flags(user: Any) -> tuple[list[dict[str, Any]], Capped, int]:
    """Open critical flags, by project (projects A-Z, flags about no project last), each with
    its explanation; the flags capped, their projects counted in SQL."""
    flags = visible_to(Flag.objects.select_related("project"), user).filter(
        state__in=OPEN_STATES, severity=Severity.CRITICAL
    )
    counts = flags.aggregate(total=Count("pk"), projects=Count("project_id", distinct=True))
    page = with_explanations(
        flags.order_by(
            F("project__title").asc(nulls_last=True), "project_id", "rule", "subject_label", "pk"
        )[:PACK_LIST_CAP]
    )
    groups = [
        {"project": project, "flags": list(items)}
        for project, items in groupby(page, key=lambda flag: flag.project)
    ]
    return groups, Capped(page, counts["total"]), counts["projects"]


def _approvals(user: Any) -> Capped:
    """Proposed projects waiting for a decision this reader may take."""
    projects = visible_to(CRMProject.objects.select_related("manager", "sponsor"), user).filter(
        status=ProjectStatus.PROPOSED
    )
    if not decides_everything(user):
        projects = projects.filter(sponsor_id=user.pk)
    total = projects.count()
    return Capped(list(projects.order_by("created_at", "pk")[:PACK_LIST_CAP]), total)


def _waivers(user: Any, now: datetime.datetime) -> Capped:
    """Waived flags whose waiver ends within WAIVER_HORIZON_DAYS: the reader's to renew or
    let lapse (a sponsor's: on the projects they sponsor)."""
    horizon = now + datetime.timedelta(days=WAIVER_HORIZON_DAYS)
    flags = visible_to(Flag.objects.select_related("project", "waived_by"), user).filter(
        state=FlagState.WAIVED, waiver_expires_at__lte=horizon
    )
    if not decides_everything(user):
        flags = flags.filter(project__sponsor_id=user.pk)
    total = flags.count()
    return Capped(list(flags.order_by("waiver_expires_at", "pk")[:PACK_LIST_CAP]), total)


def _kpis(user: Any) -> tuple[list[dict[str, Any]], Capped]:
    """Active goals (top priority first, capped) with their KPIs (capped per goal: the pack is
    a summary), and how many KPIs each goal has in all."""
    goals_qs = (
        visible_to(BusinessGoal.objects.all(), user)
        .filter(status=GoalStatus.ACTIVE)
        .annotate(kpi_count=Count("kpis"))
    )
    total_goals = goals_qs.count()
    goals = list(goals_qs.order_by("priority", "title", "pk")[:PACK_LIST_CAP])
    kpis = KPI.objects.filter(goal__in=[goal.pk for goal in goals]).order_by("goal_id", "name")
    by_goal: dict[int, list[KPI]] = {}
    for kpi in kpis:
        kept = by_goal.setdefault(kpi.goal_id, [])
        if len(kept) < PACK_LIST_CAP:
            kept.append(kpi)
    rows = [
        {
            "goal": goal,
            "kpis": by_goal.get(goal.pk, []),
            "more": max(0, goal.kpi_count - len(by_goal.get(goal.pk, []))),  # type: ignore[attr-defined]
        }
        for goal in goals
    ]
    return rows, Capped(goals, total_goals)


def scope_words(user: Any, projects: int) -> str:
    live = f"{projects} live project{'s' if projects != 1 else ''}"
    if decides_everything(user):
        return f"Whole portfolio: {live}; decisions across the portfolio."
    return f"Whole portfolio: {live}; decisions on the projects you sponsor."


def board_pack_context(user: Any, *, progress: Progress | None = None) -> dict[str, Any]:
    """Everything the pack shows, for this reader. A fixed number of queries."""
    step = _stepper(progress)
    now = timezone.now()
    snapshot = latest_snapshot()
    summary = summary_from(snapshot)
    trend = _trend_rows()
    projects = live_project_count(user)
    step()
    figures = dashboard.stored_dashboard_figures(snapshot.figures) if snapshot else None
    by_goal = _capped_figures(figures["investment_by_goal"]) if figures else Capped([], 0)
    step()
    flag_groups, critical, critical_projects = _critical_flags(user)
    step()
    approvals = _approvals(user)
    waivers = _waivers(user, now)
    step()
    kpi_rows, goals = _kpis(user)
    step()
    return {
        "reader": user,
        "now": now,
        "scope": scope_words(user, projects),
        "projects_live": projects,
        "summary": summary,
        "figures": figures,
        "trend": trend,
        "trend_last": trend[-1] if trend else None,
        "trend_change": _changes(trend),
        "chart": trend_chart(trend, TREND_SERIES) if trend else None,
        "by_goal": by_goal,
        "investment_rule": dashboard.INVESTMENT_RULE,
        "spend": figures["spend"] if figures else None,
        "flag_groups": flag_groups,
        "critical": critical,
        "critical_projects": critical_projects,
        "approvals": approvals,
        "waivers": waivers,
        "waiver_horizon_days": WAIVER_HORIZON_DAYS,
        "kpi_rows": kpi_rows,
        "goals": goals,
        "sponsor_only": not decides_everything(user),
    }


def _stepper(progress: Progress | None) -> Callable[[], None]:
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, len(SECTIONS))

    return step


def _static_text(name: str) -> str:
    found = finders.find(name)
    if not found:
        raise FileNotFoundError(f"The board pack's stylesheet {name} is missing.")
    return Path(str(found)).read_text(encoding="utf-8")


def _no_fetching(url: str, *args: Any, **kwargs: Any) -> Any:
    """WeasyPrint's URL fetcher: the pack needs nothing from anywhere (styles are inline, the
    charts are inline SVG); a reference to anything else is refused, never fetched."""
    raise ValueError(f"The board pack fetches nothing; refused {url[:100]!r}.")


_SVG_OPEN = re.compile(r"(<svg\b[^>]*>)")


def render_html(context: dict[str, Any]) -> str:
    """The pack's HTML: its template over the dashboard's partials, each SVG given the pack's
    chart colours inside it (WeasyPrint styles an SVG from nothing else; the pages, under their
    Content-Security-Policy, style the same SVG from the app's stylesheet)."""
    html = render_to_string("reports/board_pack.html", context)
    svg_style = " ".join(_static_text(SVG_STYLESHEET).split())
    return _SVG_OPEN.sub(lambda match: f"{match.group(1)}<style>{svg_style}</style>", html)


def render_pdf(user: Any, *, progress: Progress | None = None) -> tuple[bytes, str]:
    """The reader's board pack as PDF bytes, and its scope in words."""
    from weasyprint import CSS, HTML

    context = board_pack_context(user, progress=progress)
    html = render_html(context)
    stylesheet = CSS(string=_static_text(STYLESHEET), url_fetcher=_no_fetching, base_url="/")
    pdf = HTML(string=html, url_fetcher=_no_fetching, base_url="/").write_pdf(
        stylesheets=[stylesheet]
    )
    if progress is not None:
        progress(len(SECTIONS), len(SECTIONS))
    return bytes(pdf), context["scope"]


def filename_for(day: datetime.date | None = None) -> str:
    day = day or timezone.localdate()
    return f"board-pack-{day.isoformat()}.pdf"


__all__ = [
    "BOARD_PACK_REFUSAL",
    "PACK_LIST_CAP",
    "board_pack_context",
    "filename_for",
    "live_project_count",
    "may_get_board_pack",
    "render_pdf",
]
