"""The roadmap timeline: live projects' phases and milestones on one time axis, grouped goal →
business strategy → CRM strategy, a page of projects at a time.

A page costs the same few queries whatever the portfolio's size: the count, the page of
projects (each with its group: the goal, business strategy and CRM strategy of its first link;
RoadmapRows), and the page's phases. Templates draw the SVG;
this module only measures.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet

from goals.models import BusinessGoal
from strategies.models import BusinessStrategy, CRMStrategy, CRMStrategyServes

from .models import (
    LIVE_PROJECT_STATUSES,
    CRMProject,
    PhaseKind,
    ProjectLink,
    ProjectUserGroup,
    RoadmapPhase,
)

PER_PAGE = 25
WIDTH = 960  # the SVG's coordinate width; it scales to the page (and to paper) with viewBox
LABEL_W = 220  # the project titles' column
ROW_H = 26
AXIS_H = 24
NO_GROUP = "Not linked to a CRM strategy"


class RoadmapRows:
    """The roadmap's projects in order, for a Paginator: `count()` counts the chosen projects,
    and a slice reads that page of them, each with its group's titles (`goal_title`,
    `business_title`, `crm_title`; None when it has none). Slices only: the Paginator's.

    A project's group is its first CRM strategy by title, under that strategy's first business
    strategy (by goal, then title) and its goal; pages run by goal, business strategy and CRM
    strategy titles, the projects linked to none last, then by project title. One statement,
    set-based: the strategies are ranked once (the catalogue, each with a group rank), each
    chosen project's first link is found by one grouping of the links, and the database keeps
    only the page while it sorts by group rank and title. (A correlated subquery per project for
    each of the group's titles took 2.6 s at 65,000 live projects; this takes about 190 ms.)"""

    def __init__(self, chosen: QuerySet[CRMProject], *, narrowed: bool) -> None:
        self.chosen = chosen
        # A filtered roadmap groups only its projects' links; unfiltered, the live projects are
        # most of the portfolio, and grouping every link costs less than picking theirs first.
        self.narrowed = narrowed

    def count(self) -> int:
        return self.chosen.count()

    def __getitem__(self, page: slice) -> list[CRMProject]:
        if not isinstance(page, slice) or page.stop is None or page.step not in (None, 1):
            raise TypeError("RoadmapRows reads a bounded slice of rows (a page).")
        offset = page.start or 0
        if page.stop <= offset:
            return []
        chosen_sql, chosen_params = self.chosen.values("pk").query.sql_with_params()
        narrow, narrow_params = "", []
        if self.narrowed:
            narrow, narrow_params = f"WHERE l.project_id IN ({chosen_sql})", list(chosen_params)
        sql = _ROWS_SQL.format(
            serves=_table(CRMStrategyServes),
            business=_table(BusinessStrategy),
            goals=_table(BusinessGoal),
            crm=_table(CRMStrategy),
            links=_table(ProjectLink),
            projects=_table(CRMProject),
            chosen=chosen_sql,
            narrow=narrow,
        )
        params = [*narrow_params, *chosen_params, page.stop - offset, offset]
        return list(CRMProject.objects.raw(sql, params))


def _table(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


_ROWS_SQL = """
WITH serves AS (
    SELECT s.crm_strategy_id AS crm_id, b.title AS business_title, g.title AS goal_title,
           ROW_NUMBER() OVER (
               PARTITION BY s.crm_strategy_id ORDER BY g.title, b.title, b.id
           ) AS n
    FROM {serves} s
    JOIN {business} b ON b.id = s.business_strategy_id
    JOIN {goals} g ON g.id = b.goal_id
),
strategies AS (
    SELECT c.id, c.title AS crm_title, serves.business_title, serves.goal_title,
           ROW_NUMBER() OVER (ORDER BY c.title, c.id) AS title_rank,
           DENSE_RANK() OVER (
               ORDER BY serves.goal_title IS NULL, serves.goal_title,
                        serves.business_title IS NULL, serves.business_title, c.title
           ) AS group_rank
    FROM {crm} c
    LEFT JOIN serves ON serves.crm_id = c.id AND serves.n = 1
),
firsts AS (
    SELECT l.project_id, MIN(st.title_rank) AS title_rank
    FROM {links} l
    JOIN strategies st ON st.id = l.crm_strategy_id
    {narrow}
    GROUP BY l.project_id
)
SELECT p.id, p.title, p.status, p.start_date, p.end_date,
       st.goal_title, st.business_title, st.crm_title
FROM {projects} p
LEFT JOIN firsts f ON f.project_id = p.id
LEFT JOIN strategies st ON st.title_rank = f.title_rank
WHERE p.id IN ({chosen})
ORDER BY st.group_rank IS NULL, st.group_rank, p.title, p.id
LIMIT %s OFFSET %s
"""


def timeline_projects(
    *,
    goal: Any = None,
    status: str | None = None,
    user_group: Any = None,
    department: Any = None,
) -> RoadmapRows:
    """Live projects (or one status of them) matching the filters, in the roadmap's order, to
    paginate (RoadmapRows)."""
    projects = CRMProject.objects.filter(status__in=LIVE_PROJECT_STATUSES)
    if status:
        projects = projects.filter(status=status)
    if department is not None:
        projects = projects.filter(department=department)
    if user_group is not None:
        projects = projects.filter(
            Exists(ProjectUserGroup.objects.filter(project=OuterRef("pk"), user_group=user_group))
        )
    if goal is not None:
        projects = projects.filter(
            Exists(
                ProjectLink.objects.filter(
                    project=OuterRef("pk"),
                    crm_strategy__serves__business_strategy__goal=goal,
                )
            )
        )
    narrowed = any(value is not None for value in (goal, user_group, department)) or bool(status)
    return RoadmapRows(projects.order_by(), narrowed=narrowed)


@dataclass
class Bar:
    """One phase (a bar) or milestone (a diamond) of a row."""

    name: str
    kind: str
    go_live: bool
    x: float
    x2: float
    label: str  # what a pointer or screen reader is told: the name, kind and dates

    @property
    def width(self) -> float:
        return max(self.x2 - self.x, 2.0)

    @property
    def diamond(self) -> str:
        """The milestone's diamond around (x, its row's middle), relative to the row."""
        y, r = ROW_H / 2, 7
        return (
            f"{self.x:.1f},{y - r} {self.x + r:.1f},{y} {self.x:.1f},{y + r} {self.x - r:.1f},{y}"
        )


@dataclass
class Row:
    project: CRMProject
    y: float = 0
    bars: list[Bar] = field(default_factory=list)
    undated: int = 0  # entries without dates: not drawn, counted under the row


@dataclass
class Group:
    goal: str
    business_strategy: str
    crm_strategy: str
    rows: list[Row] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.goal, self.business_strategy, self.crm_strategy)

    @property
    def title(self) -> str:
        if not self.crm_strategy:
            return NO_GROUP
        return " → ".join(t for t in (self.goal, self.business_strategy, self.crm_strategy) if t)

    @property
    def height(self) -> int:
        return AXIS_H + ROW_H * len(self.rows) + 4


@dataclass
class Timeline:
    groups: list[Group]
    first: datetime.date
    last: datetime.date
    today_x: float | None
    ticks: list[tuple[float, str]]
    width: int = WIDTH
    label_w: int = LABEL_W
    row_h: int = ROW_H
    axis_h: int = AXIS_H

    @property
    def go_lives(self) -> int:
        return sum(b.go_live for g in self.groups for r in g.rows for b in r.bars)


def _month_starts(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    months = []
    day = first.replace(day=1)
    while day <= last:
        if day >= first:
            months.append(day)
        day = (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return months


def _dates_label(phase: RoadmapPhase) -> str:
    if phase.kind == PhaseKind.MILESTONE or phase.end_date in (None, phase.start_date):
        when = f"{phase.start_date or phase.end_date:%d %b %Y}"
    else:
        when = f"{phase.start_date:%d %b %Y} to {phase.end_date:%d %b %Y}"
    kind = "Go-live milestone" if phase.go_live else phase.get_kind_display()
    return f"{phase.name} ({kind}): {when}"


def build(projects: list[CRMProject], phases: list[RoadmapPhase], today: datetime.date) -> Timeline:
    """Lay out these projects (in order, each carrying its group's titles) and their phases on
    one axis: from the earliest date shown (or today) to the latest, a little padded."""
    dated = [p for p in phases if p.start_date or p.end_date]
    days = [d for p in dated for d in (p.start_date, p.end_date) if d] + [today]
    first = min(days) - datetime.timedelta(days=7)
    last = max(days) + datetime.timedelta(days=7)
    span = max((last - first).days, 1)
    plot_w = WIDTH - LABEL_W - 12

    def x(day: datetime.date) -> float:
        return LABEL_W + plot_w * (day - first).days / span

    by_project: dict[int, list[RoadmapPhase]] = {}
    for phase in phases:
        by_project.setdefault(phase.project_id, []).append(phase)
    groups: list[Group] = []
    for project in projects:
        key = (
            getattr(project, "goal_title", None) or "",
            getattr(project, "business_title", None) or "",
            getattr(project, "crm_title", None) or "",
        )
        if (
            not groups
            or (groups[-1].goal, groups[-1].business_strategy, groups[-1].crm_strategy) != key
        ):
            groups.append(Group(*key))
        row = Row(project=project, y=AXIS_H + ROW_H * len(groups[-1].rows))
        for phase in by_project.get(project.pk, []):
            start = phase.start_date or phase.end_date
            if start is None:
                row.undated += 1
                continue
            end = phase.end_date or start if phase.kind == PhaseKind.PHASE else start
            row.bars.append(
                Bar(phase.name, phase.kind, phase.go_live, x(start), x(end), _dates_label(phase))
            )
        groups[-1].rows.append(row)
    ticks = [(x(day), f"{day:%b %Y}") for day in _month_starts(first, last)]
    if len(ticks) > 12:  # at most a dozen labels: every n-th month
        step = -(-len(ticks) // 12)
        ticks = ticks[::step]
    return Timeline(groups, first, last, x(today), ticks)


def page_of(rows: RoadmapRows, number: Any) -> Page:
    # The Paginator uses only count() and a slice; the stubs' protocol also asks for iteration
    # over every row, which RoadmapRows deliberately does not offer.
    return Paginator(rows, PER_PAGE).get_page(number)  # type: ignore[arg-type]


def timeline_for(projects: list[CRMProject], today: datetime.date) -> Timeline:
    """The timeline of these projects (a page, or one project): one query for their phases."""
    phases = list(
        RoadmapPhase.objects.filter(project__in=[p.pk for p in projects]).order_by(
            "project_id", "position", "start_date", "id"
        )
    )
    return build(projects, phases, today)
