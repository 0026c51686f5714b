"""Read-side selectors for the sponsor's pages: the dashboard's figures and the matrix (the
strategy map is `strategy_map`).

Every function issues a fixed number of queries whatever the portfolio size: figures are
aggregated in the database, over the whole portfolio — which is why the dashboard's are
computed by a full scan and stored in its snapshot (`dashboard_figures`), not per request.
The matrix reads a page of projects at a time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Context as DecimalContext
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Window,
)

from core.money import allocate, to_money, whole_percentages
from goals.models import BusinessGoal, GoalStatus
from projects.models import (
    LIVE_PROJECT_STATUSES,
    CRMProject,
    ProjectLink,
    ProjectStatus,
)
from projects.trace import (
    anchoring_servings,
    business_strategy_live_q,
    project_linked_exists,
    project_traceable_exists,
    traceable_project_links,
)
from strategies.models import BusinessStrategy, StrategyStatus
from strategies.selectors import crm_strategies_with_trace

from . import goal_health
from .selectors import FeatureTraceability, feature_traceability, live_budget_sums
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


_BUDGET = ExpressionWrapper(
    F("project__budget_technology")
    + F("project__budget_people")
    + F("project__budget_process")
    + F("project__budget_training")
    + F("project__budget_incentives"),
    output_field=_MONEY,
)


def _chain_sql() -> tuple[str, list[Any]]:
    """SQL of rows (traceable link of a live project, active business strategy its CRM
    strategy serves) with what INVESTMENT_RULE needs — the project's budget, its traceable
    links' count, weights and weight sum, the CRM strategy's number of such servings — and
    `amount`, the money the link carries to that business strategy. Both halves are the ORM's
    own querysets (projects.trace, strategies.trace: one definition of traceable and live);
    the per-project and per-strategy figures are window functions over them, one pass each,
    where correlated subqueries per link took seconds at 100k projects. Joined in SQL because
    the ORM joins no derived tables."""
    per_project = [F("project_id")]
    links = (
        _traceable_links()
        .annotate(
            budget=_BUDGET,
            links_n=Window(Count("pk"), partition_by=per_project),
            weighted_n=Window(Count("weight"), partition_by=per_project),
            weight_sum=Window(Sum("weight"), partition_by=per_project),
        )
        .order_by()
        .values(
            "project_id",
            "crm_strategy_id",
            "weight",
            "budget",
            "links_n",
            "weighted_n",
            "weight_sum",
        )
    )
    # Anchoring servings are those of an active CRM strategy to a live business strategy: for
    # a traceable link's (anchored) CRM strategy, exactly the live business strategies it serves.
    servings = (
        anchoring_servings()
        .annotate(servings_n=Window(Count("pk"), partition_by=[F("crm_strategy_id")]))
        .order_by()
        .values(
            "crm_strategy_id",
            "business_strategy_id",
            "servings_n",
            goal=F("business_strategy__goal_id"),
        )
    )
    links_sql, links_params = links.query.sql_with_params()
    servings_sql, servings_params = servings.query.sql_with_params()
    # SQLite divides integers as integers: its dividends are made REAL (PostgreSQL divides
    # numerics to at least 16 significant digits). One division, last, so nothing is rounded
    # before it.
    real = "CAST({} AS REAL)" if connection.vendor == "sqlite" else "({})"
    weighted = real.format("l.budget * l.weight")
    even = real.format("l.budget")
    # Only constants and the ORM's compiled SQL (values go as parameters): nothing injected.
    sql = (
        "SELECT l.project_id AS project_id, l.crm_strategy_id AS cs, "  # noqa: S608
        "s.business_strategy_id AS bs, s.goal AS goal, "
        "CASE WHEN l.weight IS NOT NULL AND l.weighted_n = l.links_n AND l.weight_sum > 0 "
        f"THEN {weighted} / (l.weight_sum * s.servings_n) "
        f"ELSE {even} / (l.links_n * s.servings_n) END AS amount "
        f"FROM ({links_sql}) l JOIN ({servings_sql}) s ON s.crm_strategy_id = l.crm_strategy_id"
    )
    return sql, [*links_params, *servings_params]


# SQLite hands back a double: as Django does for a decimal expression, to 15 digits.
_FROM_FLOAT = DecimalContext(prec=15).create_decimal_from_float


def _decimal(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    return _FROM_FLOAT(value) if isinstance(value, float) else Decimal(value)


# The links' amounts carry the division's last digits (and on SQLite a double's noise);
# rounded to a billionth they still decide every cent, and equal shares tie exactly, so the
# same portfolio shows the same cents on every database.
_WEIGHT_QUANTUM = Decimal("0.000000001")


@dataclass(frozen=True)
class ChainSums:
    """What the investment tables share out: per active business strategy of an active goal,
    its goal, the unrounded money its links carry (`amount`, `weight`) and how many projects
    contribute; and per goal how many projects contribute (a project serving two business
    strategies of one goal counts once for the goal)."""

    by_business_strategy: list[dict[str, Any]]
    goal_projects: dict[int, int]
    # (CRM strategy, business strategy) → the unrounded money the CRM strategy's links carry to
    # it: the strategy map's flow from a business strategy to the CRM strategies serving it.
    by_serving: dict[tuple[int, int], Decimal] = field(default_factory=dict)


def _sums_by_business_strategy() -> ChainSums:
    """One statement: the chain's rows (_chain_sql) once, grouped by business strategy and by
    goal (a common table expression read twice; PostgreSQL computes it once)."""
    sql, params = _chain_sql()
    with connection.cursor() as cursor:
        # Only constants and the compiled chain (values go as parameters).
        cursor.execute(
            f"WITH c AS ({sql}) "  # noqa: S608
            # A bare NULL would be text to PostgreSQL, which then refuses the ids below it.
            "SELECT CAST(NULL AS BIGINT), c.bs, c.goal, SUM(c.amount), "
            "COUNT(DISTINCT c.project_id) FROM c "
            "GROUP BY c.bs, c.goal "
            "UNION ALL SELECT NULL, NULL, c.goal, NULL, COUNT(DISTINCT c.project_id) FROM c "
            "GROUP BY c.goal "
            "UNION ALL SELECT c.cs, c.bs, c.goal, SUM(c.amount), 0 FROM c "
            "GROUP BY c.cs, c.bs, c.goal",
            params,
        )
        rows = cursor.fetchall()
    by_business_strategy = [
        {"bs": bs, "goal": goal, "amount": _decimal(amount), "projects": projects}
        for cs, bs, goal, amount, projects in rows
        if cs is None and bs is not None
    ]
    for row in by_business_strategy:
        row["weight"] = row["amount"].quantize(_WEIGHT_QUANTUM)
    goal_projects = {goal: n for cs, bs, goal, _amount, n in rows if cs is None and bs is None}
    by_serving = {
        (cs, bs): _decimal(amount) for cs, bs, _goal, amount, _n in rows if cs is not None
    }
    return ChainSums(by_business_strategy, goal_projects, by_serving)


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


def investment_by_business_strategy(sums: ChainSums | None = None) -> list[dict[str, Any]]:
    """Every active business strategy (of an active goal) with the money flowing to it, its
    share and how many projects contribute; largest first. Two queries (one when given the
    `sums` of _sums_by_business_strategy())."""
    sums = _sums_by_business_strategy() if sums is None else sums
    _by_goal, amounts = _share_out(sums.by_business_strategy)
    projects = {row["bs"]: row["projects"] for row in sums.by_business_strategy}
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


def investment_by_goal(sums: ChainSums | None = None) -> list[dict[str, Any]]:
    """Every active goal with the money flowing to it through its business strategies, its
    share and how many projects contribute; largest first. Two queries (one when given the
    `sums` of _sums_by_business_strategy())."""
    sums = _sums_by_business_strategy() if sums is None else sums
    amounts, _by_business_strategy = _share_out(sums.by_business_strategy)
    projects = sums.goal_projects
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


def spend_split(sums: dict[str, Any] | None = None) -> dict[str, Any]:
    """Technology vs capability (people, process, training, incentives) money over the live
    portfolio, in total and for the part that traces, plus how many projects buy technology
    alone. From live_budget_sums() (two queries; none when given them)."""
    totals = sums or live_budget_sums()
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


def projects_with_untraced_features(
    limit: int = 10, features: FeatureTraceability | None = None
) -> list[dict[str, Any]]:
    """Live projects with the most features that do not trace (dropped features left out, as
    in the headline figure), worst first: {"project_id", "title", "status", "total", "traced",
    "untraced"}. One query (none given the `features` a full scan counted)."""
    features = features or feature_traceability(limit)
    return [dict(row) for row in features.worst[:limit]]


# --- What a full scan records for the dashboard ------------------------------------------------


def dashboard_figures(
    features: FeatureTraceability | None = None,
    budgets: dict[str, Any] | None = None,
    untraced: QuerySet[Any] | None = None,
) -> dict[str, Any]:
    """The dashboard's figures beyond the headline, and the strategy map's health per node,
    computed over the whole portfolio by the functions above: a full scan stores them in its
    snapshot (Snapshot.figures) and the pages read them from there, so a request never
    recomputes the portfolio. `features`: the scan's one count of feature traceability;
    `budgets`: its live_budget_sums(), shared with the headline; `untraced`: the live projects
    it flagged as not tracing (see node_health)."""
    sums = _sums_by_business_strategy()  # both investment tables share out the same sums
    return {
        # The strategy map's first screen: each goal's and strategy's projects, traced, flags.
        "map_health": node_health(untraced),
        # Goal health per goal and business strategy (alignment.goal_health).
        "goal_health": goal_health.recorded(),
        "investment_by_goal": investment_by_goal(sums),
        "investment_by_business_strategy": investment_by_business_strategy(sums),
        "spend": spend_split(budgets),
        "untraced_features": projects_with_untraced_features(features=features),
        # The map's flow: "crm:bs" → the money to the cent (for the width of a link, so not
        # shared out by largest remainder like the tables).
        "map_flow": {
            f"{cs}:{bs}": str(to_money(amount)) for (cs, bs), amount in sums.by_serving.items()
        },
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
    """The matrix rows, by title: live projects unless a status is chosen ("all" shows every
    status). Only filtered and ordered: a page's rows are read from `matrix_rows` for its ids
    alone (figures computed for every row before the page's offset made page 300 take 2.5 s
    at 100,000 projects)."""
    projects = CRMProject.objects.order_by("title", "pk")
    if status == "all":
        return projects
    if status:
        return projects.filter(status=status)
    return projects.filter(status__in=PORTFOLIO_STATUSES)


def matrix_rows() -> QuerySet[CRMProject]:
    """Projects with `is_linked` and `is_traceable`, for a page of the matrix's rows."""
    return CRMProject.objects.annotate(
        is_linked=project_linked_exists(), is_traceable=project_traceable_exists()
    )


def matrix_columns() -> QuerySet[Any]:
    """The matrix columns: CRM strategies that are not retired or that still have links,
    with whether each is anchored to an active goal, by title. A values() queryset, for the
    page to slice (the columns come a page at a time, like the rows)."""
    linked = Exists(ProjectLink.objects.filter(crm_strategy=OuterRef("pk")))
    strategies: QuerySet[Any] = crm_strategies_with_trace()
    return (
        strategies.annotate(has_links=linked)
        .filter(~Q(status=StrategyStatus.RETIRED) | Q(has_links=True))
        .values("id", "title", "status", "is_anchored")
        .order_by("title", "id")
    )


def matrix_cells(
    project_ids: list[int], strategy_ids: list[int]
) -> dict[tuple[int, int], dict[str, Any]]:
    """The links of these projects to these CRM strategies, keyed by (project id, CRM strategy
    id). One query."""
    return {
        (row["project_id"], row["crm_strategy_id"]): row
        for row in _rows(
            ProjectLink.objects.filter(
                project_id__in=project_ids, crm_strategy_id__in=strategy_ids
            ).values("project_id", "crm_strategy_id", "rationale", "weight")
        )
    }
