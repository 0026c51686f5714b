"""Read-side selectors for the sponsor's pages: the dashboard's figures and the matrix (the
strategy map is `strategy_map`).

Every function issues a fixed number of queries whatever the portfolio size: figures are
aggregated in the database, over the whole portfolio — which is why the dashboard's are
computed by a full scan and stored in its snapshot (`dashboard_figures`), not per request.
The matrix reads a page of projects at a time.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, NullIf

from core.money import allocate, to_money, whole_percentages
from goals.models import BusinessGoal, GoalStatus
from projects.models import (
    LIVE_PROJECT_STATUSES,
    CRMProject,
    Feature,
    FeatureStatus,
    ProjectLink,
    ProjectStatus,
)
from projects.selectors import BUDGET_CAPABILITY, projects_with_trace
from projects.trace import (
    anchoring_servings,
    business_strategy_live_q,
    feature_traceable_exists,
    project_traceable_exists,
    traceable_project_links,
)
from strategies.models import BusinessStrategy, StrategyStatus
from strategies.selectors import crm_strategies_with_trace

from .strategy_map import node_health

# The dashboards look at the live portfolio, like the rules: done and cancelled projects are
# history, and their money is no longer a decision anyone can take.
PORTFOLIO_STATUSES = [str(status) for status in LIVE_PROJECT_STATUSES]

_MONEY = DecimalField(max_digits=16, decimal_places=2)
# A link's amount is a quotient: it keeps its fraction (no fixed places) until the cents are
# shared out in Python.
_QUOTIENT = DecimalField()
_INT = IntegerField()

INVESTMENT_RULE = (
    "A traceable project's whole budget is shared out over its traceable links (links to an "
    "active CRM strategy that serves an active business strategy of an active goal): in "
    "proportion to the links' weights when every such link has a weight, otherwise evenly. "
    "A link's share is then split evenly over the active business strategies its CRM strategy "
    "serves. A goal receives what its business strategies receive. Amounts are rounded to the "
    "cent by largest remainder, so the goals add up exactly to the budget that traces and a "
    "goal's business strategies exactly to the goal."
)


def _rows(queryset: QuerySet[Any]) -> list[dict[str, Any]]:
    """Plain dicts from a values() queryset (its annotations are beyond the type checker)."""
    return [dict(row) for row in queryset]


def _money(value: Any) -> Decimal:
    # SQLite sums decimals as REAL (Django hands back a Decimal of 15 digits): to the cent.
    return to_money(value)


# --- Investment by goal and business strategy ---------------------------------------------


def _traceable_links() -> QuerySet[ProjectLink]:
    """Links of live projects whose CRM strategy reaches an active goal (the upper half of a
    chain), i.e. the links a project's traceability rests on."""
    return traceable_project_links().filter(project__status__in=PORTFOLIO_STATUSES)


def _per_project(aggregate: Any) -> Coalesce:
    """A scalar subquery over the outer link's project's traceable links."""
    rows = (
        _traceable_links()
        .filter(project_id=OuterRef("project_id"))
        .order_by()
        .values("project_id")
        .annotate(value=aggregate)
        .values("value")
    )
    return Coalesce(Subquery(rows, output_field=_INT), Value(0), output_field=_INT)


class _Dividend(Func):
    """Its argument, the left side of a division, made REAL on SQLite only. SQLite has no
    decimal type and divides two integers as integers (a budget of 1000 over 3 links would be
    333); PostgreSQL divides numerics to at least 16 significant digits. Either way Django
    hands back a Decimal, and the cents are shared out from the exact total in Python."""

    template = "(%(expressions)s)"
    output_field = _QUOTIENT

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        # Not Func's SQLite form: its CAST(… AS NUMERIC) would turn 1000.0 back into 1000.
        return self.as_sql(
            compiler, connection, template="CAST(%(expressions)s AS REAL)", **extra_context
        )


def _link_amounts() -> QuerySet[ProjectLink]:
    """Traceable links annotated with `amount_per_business_strategy`: the money the link carries
    to each active business strategy its CRM strategy serves (see INVESTMENT_RULE)."""
    active_servings = (
        anchoring_servings()
        .filter(crm_strategy_id=OuterRef("crm_strategy_id"))
        .order_by()
        .values("crm_strategy_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    budget = ExpressionWrapper(
        F("project__budget_technology")
        + F("project__budget_people")
        + F("project__budget_process")
        + F("project__budget_training")
        + F("project__budget_incentives"),
        output_field=_MONEY,
    )
    weighted = Q(weight__isnull=False) & Q(weighted_n=F("links_n")) & Q(weight_sum__gt=0)
    return _traceable_links().annotate(
        links_n=_per_project(Count("pk")),
        weighted_n=_per_project(Count("weight")),
        weight_sum=_per_project(Sum("weight")),
        servings_n=Subquery(active_servings, output_field=_INT),
        # budget * weight / (sum of weights * servings), or budget / (links * servings): one
        # division, last, so nothing is rounded before it.
        amount_per_business_strategy=Case(
            When(
                weighted,
                then=_Dividend(budget * F("weight")) / NullIf(F("weight_sum") * F("servings_n"), 0),
            ),
            default=_Dividend(budget) / NullIf(F("links_n") * F("servings_n"), 0),
            output_field=_QUOTIENT,
        ),
    )


def _active_chain_rows() -> QuerySet[ProjectLink]:
    # One filter() call so the serving, the business strategy and the goal share one join.
    return _link_amounts().filter(
        business_strategy_live_q("crm_strategy__serves__business_strategy__")
    )


# The links' amounts carry the division's last digits (and on SQLite a double's noise);
# rounded to a billionth they still decide every cent, and equal shares tie exactly, so the
# same portfolio shows the same cents on every database.
_WEIGHT_QUANTUM = Decimal("0.000000001")


def _sums_by_business_strategy() -> list[dict[str, Any]]:
    """Per active business strategy of an active goal: its goal, the unrounded money its links
    carry (`weight`) and how many projects contribute. One query."""
    rows = _rows(
        _active_chain_rows()
        .values(
            bs=F("crm_strategy__serves__business_strategy_id"),
            goal=F("crm_strategy__serves__business_strategy__goal_id"),
        )
        .annotate(
            amount=Sum("amount_per_business_strategy"),
            projects=Count("project_id", distinct=True),
        )
        .order_by()
    )
    for row in rows:
        row["weight"] = Decimal(row["amount"] or 0).quantize(_WEIGHT_QUANTUM)
    return rows


def _share_out(sums: list[dict[str, Any]]) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """The traced budget to the cent, by goal and by business strategy, with largest remainder:
    goals add up exactly to the traced budget, a goal's business strategies exactly to the
    goal. The total is the links' amounts added up: per project they carry its whole budget,
    so rounded to the cent their sum is the traced budget exactly. Python over the small
    result (goals, strategies), never over projects."""
    goal_weights: dict[int, Decimal] = defaultdict(Decimal)
    members: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(sums, key=lambda row: row["bs"]):
        goal_weights[row["goal"]] += row["weight"]
        members[row["goal"]].append(row)
    total = to_money(sum(goal_weights.values(), Decimal(0)))
    goals = sorted(goal_weights)
    if not total:
        zero = Decimal("0.00")
        return dict.fromkeys(goals, zero), {row["bs"]: zero for row in sums}
    by_goal = dict(zip(goals, allocate(total, [goal_weights[g] for g in goals]), strict=True))
    by_business_strategy: dict[int, Decimal] = {}
    for goal in goals:
        parts = allocate(by_goal[goal], [row["weight"] for row in members[goal]])
        by_business_strategy.update(
            (row["bs"], part) for row, part in zip(members[goal], parts, strict=True)
        )
    return by_goal, by_business_strategy


def _with_shares(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Largest first, each with `share_pct`: its whole-percent share, the shares adding up to
    100 (largest remainder) when anything traces."""
    rows.sort(key=lambda row: (-row["amount"], row["title"]))
    for row, pct in zip(rows, whole_percentages([row["amount"] for row in rows]), strict=True):
        row["share_pct"] = pct
    return rows


def investment_by_business_strategy(
    sums: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Every active business strategy (of an active goal) with the money flowing to it, its
    share and how many projects contribute; largest first. Two queries (one when given the
    `sums` of _sums_by_business_strategy())."""
    sums = _sums_by_business_strategy() if sums is None else sums
    _by_goal, amounts = _share_out(sums)
    projects = {row["bs"]: row["projects"] for row in sums}
    strategies = BusinessStrategy.objects.filter(business_strategy_live_q()).values(
        "id", "title", "goal_id", "goal__title"
    )
    return _with_shares(
        [
            {
                "id": bs["id"],
                "title": bs["title"],
                "goal_id": bs["goal_id"],
                "goal_title": bs["goal__title"],
                "amount": amounts.get(bs["id"], Decimal("0.00")),
                "projects": projects.get(bs["id"], 0),
            }
            for bs in strategies
        ]
    )


def investment_by_goal(sums: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every active goal with the money flowing to it through its business strategies, its
    share and how many projects contribute; largest first. Three queries (two when given the
    `sums` of _sums_by_business_strategy())."""
    amounts, _by_business_strategy = _share_out(
        _sums_by_business_strategy() if sums is None else sums
    )
    # A project serving two business strategies of one goal counts once for the goal.
    projects = {
        row["goal"]: row["projects"]
        for row in _rows(
            _active_chain_rows()
            .values(goal=F("crm_strategy__serves__business_strategy__goal_id"))
            .annotate(projects=Count("project_id", distinct=True))
            .order_by()
        )
    }
    goals = BusinessGoal.objects.filter(status=GoalStatus.ACTIVE).values("id", "title")
    return _with_shares(
        [
            {
                "id": goal["id"],
                "title": goal["title"],
                "amount": amounts.get(goal["id"], Decimal("0.00")),
                "projects": projects.get(goal["id"], 0),
            }
            for goal in goals
        ]
    )


# --- Technology vs capability -----------------------------------------------------------


def spend_split() -> dict[str, Any]:
    """Technology vs capability (people, process, training, incentives) money over the live
    portfolio, in total and for the part that traces, plus how many projects buy technology
    alone. One query."""
    traceable = Q(traceable=True)
    tech_only = Q(budget_technology__gt=0, capability=0)
    totals = (
        CRMProject.objects.filter(status__in=PORTFOLIO_STATUSES)
        .annotate(traceable=project_traceable_exists(), capability=BUDGET_CAPABILITY)
        .aggregate(
            technology=Sum("budget_technology"),
            people=Sum("budget_people"),
            process=Sum("budget_process"),
            training=Sum("budget_training"),
            incentives=Sum("budget_incentives"),
            traced_technology=Sum("budget_technology", filter=traceable),
            traced_capability=Sum("capability", filter=traceable),
            technology_only=Count("pk", filter=tech_only),
        )
    )
    parts = {key: _money(totals[key]) for key in ("people", "process", "training", "incentives")}
    technology = _money(totals["technology"])
    capability = sum(parts.values(), Decimal("0.00"))
    total = technology + capability
    percentages = whole_percentages([technology, capability])
    return {
        "technology": technology,
        "capability": capability,
        "capability_parts": parts,
        "total": total,
        # Two parts of one whole: whole percentages that add up to 100 (largest remainder).
        "technology_pct": percentages[0],
        "capability_pct": percentages[1],
        "traced_technology": _money(totals["traced_technology"]),
        "traced_capability": _money(totals["traced_capability"]),
        "technology_only_projects": totals["technology_only"] or 0,
    }


def projects_with_untraced_features(limit: int = 10) -> list[dict[str, Any]]:
    """Live projects with the most features that do not trace (dropped features left out, as
    in the headline figure), worst first: {"project_id", "title", "status", "total", "traced",
    "untraced"}. One grouped query over features."""
    rows = _rows(
        Feature.objects.filter(project__status__in=PORTFOLIO_STATUSES)
        .exclude(status=FeatureStatus.DROPPED)
        .alias(traceable=feature_traceable_exists())
        .values("project_id", "project__title", "project__status")
        .annotate(total=Count("pk"), traced=Count("pk", filter=Q(traceable=True)))
        .annotate(untraced=F("total") - F("traced"))
        .filter(untraced__gt=0)
        .order_by("-untraced", "project__title", "project_id")[:limit]
    )
    for row in rows:
        row["title"], row["status"] = row.pop("project__title"), row.pop("project__status")
    return rows


# --- What a full scan records for the dashboard ------------------------------------------------


def dashboard_figures() -> dict[str, Any]:
    """The dashboard's figures beyond the headline, and the strategy map's health per node,
    computed over the whole portfolio by the functions above: a full scan stores them in its
    snapshot (Snapshot.figures) and the pages read them from there, so a request never
    recomputes the portfolio."""
    sums = _sums_by_business_strategy()  # both investment tables share out the same sums
    return {
        # The strategy map's first screen: each goal's and strategy's projects, traced, flags.
        "map_health": node_health(),
        "investment_by_goal": investment_by_goal(sums),
        "investment_by_business_strategy": investment_by_business_strategy(sums),
        "spend": spend_split(),
        "untraced_features": projects_with_untraced_features(),
    }


_SPEND_AMOUNTS = (
    "technology",
    "capability",
    "total",
    "traced_technology",
    "traced_capability",
)


def stored_dashboard_figures(figures: dict[str, Any]) -> dict[str, Any] | None:
    """dashboard_figures() as a snapshot kept it (JSON: amounts as decimal strings), with its
    amounts back as Decimals; None for a snapshot taken before the dashboard's figures were
    recorded."""
    if not figures or "spend" not in figures:
        return None
    revived: dict[str, Any] = {
        key: [{**row, "amount": Decimal(row["amount"])} for row in figures[key]]
        for key in ("investment_by_goal", "investment_by_business_strategy")
    }
    spend = dict(figures["spend"])
    spend.update({key: Decimal(spend[key]) for key in _SPEND_AMOUNTS})
    spend["capability_parts"] = {
        key: Decimal(value) for key, value in spend["capability_parts"].items()
    }
    status_labels = dict(ProjectStatus.choices)
    revived["spend"] = spend
    revived["untraced_features"] = [
        {**row, "status_label": status_labels.get(row["status"], row["status"])}
        for row in figures["untraced_features"]
    ]
    return revived


# --- Traceability matrix --------------------------------------------------------------------


def matrix_projects(*, status: str = "") -> QuerySet[CRMProject]:
    """The matrix rows: projects with `is_linked` / `is_traceable`, live ones unless a status
    is chosen ("all" shows every status)."""
    projects = projects_with_trace().order_by("title", "pk")
    if status == "all":
        return projects
    if status:
        return projects.filter(status=status)
    return projects.filter(status__in=PORTFOLIO_STATUSES)


def matrix_columns() -> list[dict[str, Any]]:
    """The matrix columns: CRM strategies that are not retired or that still have links,
    with whether each is anchored to an active goal. One query."""
    linked = Exists(ProjectLink.objects.filter(crm_strategy=OuterRef("pk")))
    strategies: QuerySet[Any] = crm_strategies_with_trace()
    return _rows(
        strategies.annotate(has_links=linked)
        .filter(~Q(status=StrategyStatus.RETIRED) | Q(has_links=True))
        .values("id", "title", "status", "is_anchored")
        .order_by("title")
    )


def matrix_cells(project_ids: list[int]) -> dict[tuple[int, int], dict[str, Any]]:
    """The links of these projects keyed by (project id, CRM strategy id). One query."""
    return {
        (row["project_id"], row["crm_strategy_id"]): row
        for row in _rows(
            ProjectLink.objects.filter(project_id__in=project_ids).values(
                "project_id", "crm_strategy_id", "rationale", "weight"
            )
        )
    }
