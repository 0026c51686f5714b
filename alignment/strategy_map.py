"""The strategy map, a branch at a time: goal → business strategies → CRM strategies →
projects → features, and what hangs loose.

The first screen holds the small top of the tree — goals, their business strategies, and the
CRM strategies that serve no business strategy — with each node's health (live projects under
it, how many of them trace, open flags) as the last full scan recorded it (`node_health`, a
handful of GROUP BY queries run by the scan, never per request). A branch's children are read
when it is opened, a page at a time (`MAP_PAGE_SIZE`): the CRM strategies serving a business
strategy, the projects linked to a CRM strategy (with their features' figures, for the rows on
the page only), a project's features. What does not trace is a paginated, filterable list.
So no request reads more rows than a page, whatever the portfolio size.

Traceable, anchored, live and off scope are `projects.trace` / `strategies.trace`; nothing
here spells them out again. Every queryset goes through `core.permissions.visible_to`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.conf import settings as django_settings
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.urls import get_script_prefix, get_urlconf, reverse

from core.permissions import visible_to
from goals.models import BusinessGoal, GoalStatus
from projects.models import (
    LIVE_PROJECT_STATUSES,
    CRMProject,
    Feature,
    FeatureLink,
    FeatureStatus,
    ProjectLink,
    ProjectStatus,
)
from projects.selectors import BUDGET_TOTAL, features_with_trace
from projects.trace import (
    feature_link_off_scope,
    feature_linked_exists,
    feature_traceable_exists,
    project_linked_exists,
    project_traceable_exists,
)
from strategies.models import BusinessStrategy, CRMStrategy, CRMStrategyServes, StrategyStatus
from strategies.trace import anchored_crm_strategy_exists, business_strategy_live_q

from .models import Flag
from .selectors import OPEN_STATES

# Children shown per branch before a "more" link (and per page of a branch on its own page).
MAP_PAGE_SIZE = 100

_LIVE = [str(status) for status in LIVE_PROJECT_STATUSES]
# A linked project's whole budget, read through its link.
_PROJECT_BUDGET = ExpressionWrapper(
    F("project__budget_technology")
    + F("project__budget_people")
    + F("project__budget_process")
    + F("project__budget_training")
    + F("project__budget_incentives"),
    output_field=DecimalField(max_digits=16, decimal_places=2),
)
_INT = IntegerField()

_STATUS_LABELS: dict[str, dict[str, str]] = {
    "goal": dict(GoalStatus.choices),
    "business_strategy": dict(StrategyStatus.choices),
    "crm_strategy": dict(StrategyStatus.choices),
    "project": dict(ProjectStatus.choices),
    "feature": dict(FeatureStatus.choices),
}
_KIND_LABELS = {
    "goal": "Goal",
    "business_strategy": "Business strategy",
    "crm_strategy": "CRM strategy",
    "project": "Project",
    "feature": "Feature",
}
_DETAIL_URLS = {
    "goal": "goals:detail",
    "business_strategy": "strategies:business_detail",
    "crm_strategy": "strategies:crm_detail",
    "project": "projects:detail",
    "feature": "projects:feature_detail",
}


# --- Health: what the scan records per node ------------------------------------------------


@dataclass(frozen=True)
class Health:
    """A node's figures: `items` under it (live projects; a project's features), how many of
    them trace, and the open flags on them and on the node itself."""

    items: int
    traced: int
    flags: int | None  # None where they are not counted (the not-traced list)
    noun: str = "project"

    @property
    def traced_pct(self) -> int:
        return round(Decimal(self.traced) * 100 / self.items) if self.items else 0


# The levels of node a project's link reaches, as node_health() names them.
_NODE_PATHS = ("crm_strategy", "business_strategy", "goal")


def _health_sql(untraced: QuerySet[Any] | None = None) -> tuple[str, list[Any]]:
    """One statement: per (kind, node) the live projects under it, how many trace, and their
    open flags. Its parts are the ORM's querysets — the live projects' links (one per project
    and CRM strategy: a unique pair), what each CRM strategy serves, the live projects that
    trace (projects.trace, a semi-join), the open flags per project — joined and grouped in
    SQL (the ORM joins no derived tables). The links are read once (a common table expression)
    and climb to business strategies and goals from there, each project counted once per
    node, not once per link and flag. A full scan's snapshot passes the live projects it flagged
    as not tracing (`untraced`, values `pid`): a linked one traces unless it is among them, so the
    chain is not climbed again."""
    links_sql, links_params = (
        ProjectLink.objects.filter(project__status__in=_LIVE)
        .values(cs=F("crm_strategy_id"), pid=F("project_id"))
        .order_by()
        .query.sql_with_params()
    )
    serves_sql, serves_params = (
        CRMStrategyServes.objects.values(
            cs=F("crm_strategy_id"),
            bs=F("business_strategy_id"),
            goal=F("business_strategy__goal_id"),
        )
        .order_by()
        .query.sql_with_params()
    )
    if untraced is None:
        traced_sql, traced_params = (
            CRMProject.objects.filter(status__in=_LIVE)
            .filter(project_traceable_exists())
            .values("id")
            .order_by()
            .query.sql_with_params()
        )
        traced = f"LEFT JOIN ({traced_sql}) t ON t.id = l.pid "
        is_traced = "CASE WHEN t.id IS NULL THEN 0 ELSE 1 END"
    else:
        traced_sql, traced_params = untraced.order_by().query.sql_with_params()
        traced = f"LEFT JOIN ({traced_sql}) t ON t.pid = l.pid "
        is_traced = "CASE WHEN t.pid IS NULL THEN 1 ELSE 0 END"
    flags_sql, flags_params = (
        Flag.objects.filter(state__in=OPEN_STATES, project__isnull=False)
        .values("project_id")
        .annotate(n=Count("pk"))
        .order_by()
        .query.sql_with_params()
    )
    # Only constants and the ORM's compiled SQL (values go as parameters): nothing injected.
    sql = (
        f"WITH l AS ({links_sql}), s AS ({serves_sql}), "  # noqa: S608
        # Each link with its project's figures, joined once per link (91,734 rows at 100,000
        # projects) rather than once per node the project is counted under (346,738).
        "lp AS (SELECT l.cs AS cs, l.pid AS pid, "
        f"{is_traced} AS traced, COALESCE(f.n, 0) AS n FROM l "
        f"{traced}"
        f"LEFT JOIN ({flags_sql}) f ON f.project_id = l.pid), "
        "p AS (SELECT %s AS kind, lp.cs AS node, lp.pid AS pid, lp.traced AS traced, lp.n AS n "
        "FROM lp "
        "UNION ALL SELECT DISTINCT %s, s.bs, lp.pid, lp.traced, lp.n "
        "FROM lp JOIN s ON s.cs = lp.cs "
        "UNION ALL SELECT DISTINCT %s, s.goal, lp.pid, lp.traced, lp.n "
        "FROM lp JOIN s ON s.cs = lp.cs) "
        "SELECT p.kind, p.node, COUNT(*), SUM(p.traced), SUM(p.n) FROM p GROUP BY p.kind, p.node"
    )
    return sql, [
        *links_params,
        *serves_params,
        *traced_params,
        *flags_params,
        *_NODE_PATHS,
    ]


def node_health(untraced: QuerySet[Any] | None = None) -> dict[str, dict[str, list[int]]]:
    """Per goal, business strategy and CRM strategy: [live projects linked under it, how many
    of those trace, open flags on those projects and their features plus on the node itself].
    Two grouped queries over the whole portfolio, whatever its size: a full scan records the
    result in its snapshot (Snapshot.figures["map_health"]) and the map reads it there.
    JSON-ready: ids as strings."""
    health: dict[str, dict[int, list[int]]] = {kind: {} for kind in _NODE_PATHS}
    sql, params = _health_sql(untraced)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for kind, node, projects, traced, flags in cursor.fetchall():
            health[kind][node] = [projects, int(traced), int(flags)]
    own_flags = (
        Flag.objects.filter(state__in=OPEN_STATES, subject_type__in=list(_NODE_PATHS))
        .values("subject_type", "subject_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in own_flags:
        health[row["subject_type"]].setdefault(row["subject_id"], [0, 0, 0])[2] += row["n"]
    return {
        kind: {str(node): figures for node, figures in sorted(nodes.items())}
        for kind, nodes in health.items()
    }


def stored_health(figures: dict[str, Any] | None) -> dict[str, dict[int, Health]] | None:
    """node_health() as a snapshot kept it; None when the snapshot has none."""
    stored = (figures or {}).get("map_health")
    if stored is None:
        return None
    return {
        kind: {int(pk): Health(*values) for pk, values in nodes.items()}
        for kind, nodes in stored.items()
    }


# --- Nodes ------------------------------------------------------------------------------------


@dataclass
class Node:
    """One item on the map. `branch_url` is where its children are (a page of its own that
    htmx also fetches into the tree); empty for a leaf."""

    kind: str
    id: int
    title: str
    status: str
    traceable: bool = True
    note: str = ""
    off_scope: bool = False
    health: Health | None = None
    branch_url: str = ""
    # Business strategies listed on the first screen under a goal, and how many it has.
    children: list[Node] | None = None
    children_total: int = 0
    # A project's budget, on a CRM strategy's branch (the visual map's link widths).
    amount: Decimal | None = None
    # Goal health (alignment.goal_health), for goals and business strategies, as the last
    # full scan recorded it.
    verdict: Any = None

    @property
    def status_label(self) -> str:
        return _STATUS_LABELS[self.kind].get(self.status, self.status)

    @property
    def kind_label(self) -> str:
        return _KIND_LABELS[self.kind]

    @property
    def url(self) -> str:
        return url_with_id(_DETAIL_URLS[self.kind], self.id)

    @property
    def hangs_loose(self) -> bool:
        """Projects and features that do not trace, and features off their project's scope:
        the map's red, dashed items."""
        return self.off_scope or (not self.traceable and self.kind in ("project", "feature"))

    @property
    def more_children(self) -> int:
        return self.children_total - len(self.children or [])

    @property
    def more_url(self) -> str:
        """The next page of the children listed with the node (a goal's on the first screen)."""
        return self.page_url(2)

    def page_url(self, number: int) -> str:
        separator = "&" if "?" in self.branch_url else "?"
        return f"{self.branch_url}{separator}page={number}"


# Never an id on a map page: the placeholder each URL is reversed with once.
_ID_MARK = str(2**63 - 1)


@lru_cache(maxsize=64)
def _url_pattern(name: str, prefix: str, urlconf: Any) -> str:
    return reverse(name, args=[_ID_MARK], urlconf=urlconf)


def url_with_id(name: str, pk: int) -> str:
    """reverse(name, args=[pk]), the URL pattern reversed once per name (and script prefix and
    URLconf): the map's first screen links 250 nodes at 100,000 projects, each twice."""
    urlconf = get_urlconf() or django_settings.ROOT_URLCONF  # a test may override the setting
    return _url_pattern(name, get_script_prefix(), urlconf).replace(_ID_MARK, str(int(pk)))


def branch_url(kind: str, pk: int, *, history: bool = False, **query: Any) -> str:
    """The address of a node's children: a page of its own, and the htmx partial."""
    url = url_with_id(f"alignment:map_{kind}", pk)
    params = {key: value for key, value in query.items() if value}
    if history:
        params["history"] = "on"
    if params:
        url += "?" + "&".join(f"{key}={value}" for key, value in params.items())
    return url


def _is_live_bs() -> Case:
    return Case(
        When(business_strategy_live_q(), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )


def _bs_node(row: dict[str, Any], health: dict[int, Health], history: bool) -> Node:
    return Node(
        kind="business_strategy",
        id=row["id"],
        title=row["title"],
        status=row["status"],
        traceable=row["is_live"],
        health=health.get(row["id"]),
        branch_url=branch_url("business_strategy", row["id"], history=history),
    )


def _crm_node(row: dict[str, Any], health: dict[int, Health], history: bool) -> Node:
    return Node(
        kind="crm_strategy",
        id=row["id"],
        title=row["title"],
        status=row["status"],
        traceable=row["is_anchored"],
        health=health.get(row["id"]),
        branch_url=branch_url("crm_strategy", row["id"], history=history),
    )


@dataclass
class FirstScreen:
    goals: list[Node]
    loose_crm_strategies: list[Node]
    measured: bool  # a full scan has recorded the nodes' health


def first_screen(
    user: Any, health: dict[str, dict[int, Health]] | None, *, history: bool = False
) -> FirstScreen:
    """Goals (active first) with up to MAP_PAGE_SIZE business strategies each, and the CRM
    strategies that serve no business strategy, each with its recorded health. Three queries
    over the strategy tables; nothing that grows with the portfolio."""
    health = health or {}
    goal_health = health.get("goal", {})
    bs_health = health.get("business_strategy", {})
    crm_health = health.get("crm_strategy", {})
    goals = visible_to(BusinessGoal.objects.all(), user).order_by(
        Case(When(status=GoalStatus.ACTIVE, then=Value(0)), default=Value(1)), "title", "id"
    )
    business = (
        visible_to(BusinessStrategy.objects.all(), user)
        .annotate(
            is_live=_is_live_bs(),
            rank=Window(RowNumber(), partition_by=[F("goal_id")], order_by=[F("title"), F("id")]),
            siblings=Window(Count("id"), partition_by=[F("goal_id")]),
        )
        .filter(rank__lte=MAP_PAGE_SIZE)
        .values("id", "title", "status", "goal_id", "is_live", "rank", "siblings")
    )
    by_goal: dict[int, list[dict[str, Any]]] = {}
    for row in sorted(business, key=lambda row: row["rank"]):
        by_goal.setdefault(row["goal_id"], []).append(dict(row))
    goal_nodes = []
    for goal in goals.values("id", "title", "status"):
        children = by_goal.get(goal["id"], [])
        goal_nodes.append(
            Node(
                kind="goal",
                id=goal["id"],
                title=goal["title"],
                status=goal["status"],
                traceable=goal["status"] == GoalStatus.ACTIVE,
                health=goal_health.get(goal["id"]),
                branch_url=branch_url("goal", goal["id"], history=history),
                children=[_bs_node(row, bs_health, history) for row in children],
                children_total=children[0]["siblings"] if children else 0,
            )
        )
    serving = CRMStrategyServes.objects.filter(crm_strategy=OuterRef("pk"))
    loose = (
        visible_to(CRMStrategy.objects.all(), user)
        .filter(~Exists(serving))
        .annotate(is_anchored=anchored_crm_strategy_exists())
        .order_by("title", "id")
        .values("id", "title", "status", "is_anchored")
    )
    return FirstScreen(
        goals=goal_nodes,
        loose_crm_strategies=[_crm_node(dict(row), crm_health, history) for row in loose],
        measured=bool(health),
    )


def with_verdicts(nodes: Iterable[Node], verdicts: dict[str, dict[int, Any]]) -> None:
    """Give the goals and business strategies among `nodes` their health verdict as the
    last full scan recorded it (alignment.goal_health.stored)."""
    for node in nodes:
        node.verdict = verdicts.get(node.kind, {}).get(node.id)
        for child in node.children or []:
            child.verdict = verdicts.get(child.kind, {}).get(child.id)


# --- Branches -----------------------------------------------------------------------------


def map_business_strategies() -> QuerySet[BusinessStrategy]:
    """Business strategies with `is_live`, for a branch's parent."""
    return BusinessStrategy.objects.annotate(is_live=_is_live_bs())


def map_crm_strategies() -> QuerySet[CRMStrategy]:
    """CRM strategies with `is_anchored`, for a branch's parent."""
    return CRMStrategy.objects.annotate(is_anchored=anchored_crm_strategy_exists())


@dataclass
class Branch:
    """A page of a node's children."""

    parent: Node
    page: Page
    nodes: list[Node]


def _page(queryset: QuerySet[Any], page: Any) -> Page:
    return Paginator(queryset, MAP_PAGE_SIZE).get_page(page)


def goal_branch(
    user: Any, goal: BusinessGoal, health: dict[str, dict[int, Health]] | None, **options: Any
) -> Branch:
    """A goal's business strategies, a page at a time."""
    health = health or {}
    history = options.get("history", False)
    strategies = (
        visible_to(BusinessStrategy.objects.filter(goal=goal), user)
        .annotate(is_live=_is_live_bs())
        .order_by("title", "id")
        .values("id", "title", "status", "is_live")
    )
    page = _page(strategies, options.get("page"))
    parent = Node(
        kind="goal",
        id=goal.pk,
        title=goal.title,
        status=goal.status,
        traceable=goal.status == GoalStatus.ACTIVE,
        health=health.get("goal", {}).get(goal.pk),
        branch_url=branch_url("goal", goal.pk, history=history),
    )
    nodes = [_bs_node(row, health.get("business_strategy", {}), history) for row in page]
    return Branch(parent, page, nodes)


def business_strategy_branch(
    user: Any,
    business: BusinessStrategy,
    health: dict[str, dict[int, Health]] | None,
    **options: Any,
) -> Branch:
    """The CRM strategies serving a business strategy, a page at a time. `business` comes
    from map_business_strategies() (it carries `is_live`)."""
    health = health or {}
    history = options.get("history", False)
    strategies = (
        visible_to(CRMStrategy.objects.filter(serves__business_strategy=business), user)
        .annotate(is_anchored=anchored_crm_strategy_exists())
        .order_by("title", "id")
        .values("id", "title", "status", "is_anchored")
    )
    page = _page(strategies, options.get("page"))
    parent = _bs_node(
        {
            "id": business.pk,
            "title": business.title,
            "status": business.status,
            "is_live": business.is_live,  # type: ignore[attr-defined]
        },
        health.get("business_strategy", {}),
        history,
    )
    nodes = [_crm_node(row, health.get("crm_strategy", {}), history) for row in page]
    return Branch(parent, page, nodes)


def _count(queryset: QuerySet[Any], ref: str) -> Coalesce:
    counted = queryset.order_by().values(ref).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=_INT), Value(0))


def _project_figures(project_ref: str) -> dict[str, Any]:
    """Annotations for the projects of one page: features (dropped left out), how many trace,
    open flags on the project and its features. Correlated subqueries, evaluated for the page's
    rows only."""
    features = Feature.objects.filter(project=OuterRef(project_ref)).exclude(
        status=FeatureStatus.DROPPED
    )
    flags = Flag.objects.filter(project=OuterRef(project_ref), state__in=OPEN_STATES)
    return {
        "feature_count": _count(features, "project_id"),
        "features_traced": _count(features.filter(feature_traceable_exists()), "project_id"),
        "open_flags": _count(flags, "project_id"),
    }


def _project_node(row: dict[str, Any], *, crm: int | None, history: bool, note: str) -> Node:
    return Node(
        kind="project",
        id=row["id"],
        title=row["title"],
        status=row["status"],
        traceable=row["is_traceable"],
        note=note,
        health=Health(
            row["feature_count"], row["features_traced"], row["open_flags"], noun="feature"
        ),
        branch_url=branch_url("project", row["id"], history=history, crm=crm),
        amount=row.get("budget"),
    )


def crm_strategy_branch(
    user: Any,
    crm: CRMStrategy,
    health: dict[str, dict[int, Health]] | None,
    **options: Any,
) -> Branch:
    """The projects linked to a CRM strategy (live ones unless `history`), each with the
    rationale of its link and its features' figures, a page at a time. `crm` comes from
    map_crm_strategies() (it carries `is_anchored`)."""
    health = health or {}
    history = options.get("history", False)
    links = visible_to(ProjectLink.objects.filter(crm_strategy=crm), user)
    if not history:
        links = links.filter(project__status__in=_LIVE)
    rows = (
        links.annotate(is_traceable=project_traceable_exists("project_id"))
        .annotate(**_project_figures("project_id"))
        .order_by("project__title", "project_id")
        .values(
            "project_id",
            "rationale",
            "is_traceable",
            "feature_count",
            "features_traced",
            "open_flags",
            title=F("project__title"),
            status=F("project__status"),
            budget=_PROJECT_BUDGET,
        )
    )
    page = _page(rows, options.get("page"))
    parent = _crm_node(
        {
            "id": crm.pk,
            "title": crm.title,
            "status": crm.status,
            "is_anchored": crm.is_anchored,  # type: ignore[attr-defined]
        },
        health.get("crm_strategy", {}),
        history,
    )
    nodes = [
        _project_node(
            {**row, "id": row["project_id"]}, crm=crm.pk, history=history, note=row["rationale"]
        )
        for row in page
    ]
    return Branch(parent, page, nodes)


def _untraced_note(is_linked: bool) -> str:
    return (
        "Linked, but no link reaches an active goal (broken chain)."
        if is_linked
        else "Linked to no CRM strategy."
    )


def project_branch(
    user: Any, project: CRMProject, *, crm: CRMStrategy | None = None, **options: Any
) -> Branch:
    """A project's features, a page at a time. Under one of its CRM strategies: the features
    that serve it, and those that serve only strategies the project does not (off scope, so
    they sit under no branch of their own). Without one (from the not-traced list): all of
    them. Each is marked when it does not trace or is off scope."""
    history = options.get("history", False)
    in_scope = FeatureLink.objects.filter(feature=OuterRef("pk")).exclude(feature_link_off_scope())
    features = (
        visible_to(features_with_trace(), user)
        .filter(project=project)
        .annotate(has_in_scope=Exists(in_scope))
    )
    if crm is not None:
        serves_crm = FeatureLink.objects.filter(feature=OuterRef("pk"), crm_strategy=crm)
        features = features.filter(
            Exists(serves_crm) | Q(is_traceable=True, is_off_scope=True, has_in_scope=False)
        )
    rows = features.order_by("position", "id").values(
        "id", "title", "status", "is_traceable", "is_off_scope", "has_in_scope"
    )
    page = _page(rows, options.get("page"))
    outside: dict[int, list[str]] = {}
    off_scope_ids = [row["id"] for row in page if row["is_off_scope"]]
    if off_scope_ids:
        for feature_id, title in (
            FeatureLink.objects.filter(feature_id__in=off_scope_ids)
            .filter(feature_link_off_scope())
            .order_by("crm_strategy__title")
            .values_list("feature_id", "crm_strategy__title")
        ):
            outside.setdefault(feature_id, []).append(title)
    nodes = []
    for row in page:
        node = Node(
            kind="feature",
            id=row["id"],
            title=row["title"],
            status=row["status"],
            traceable=row["is_traceable"],
        )
        if row["is_off_scope"]:
            node.off_scope = True
            also = "also " if row["has_in_scope"] else ""
            node.note = (
                f"Off scope: {also}serves {', '.join(outside.get(row['id'], []))}, "
                "which its project does not."
            )
        elif not row["is_traceable"]:
            node.note = "Does not trace to an active goal."
        nodes.append(node)
    figures = (
        CRMProject.objects.filter(pk=project.pk)
        .annotate(is_traceable=project_traceable_exists(), **_project_figures("pk"))
        .values(
            "id",
            "title",
            "status",
            "is_traceable",
            "feature_count",
            "features_traced",
            "open_flags",
        )
        .get()
    )
    parent = _project_node(
        dict(figures), crm=crm.pk if crm else None, history=history, note=crm.title if crm else ""
    )
    return Branch(parent, page, nodes)


# --- What does not trace --------------------------------------------------------------------


def untraced_projects(user: Any, *, history: bool = False) -> QuerySet[CRMProject]:
    """Projects that do not trace (live ones unless `history`), for the projects' FilterSet:
    with what its filters and orderings use, the feature figures as correlated subqueries
    (computed for the page's rows only), and not projects_with_trace()'s people and
    per-project aggregates (twice the time)."""
    figures = _project_figures("pk")
    projects: QuerySet[Any] = visible_to(
        CRMProject.objects.annotate(
            is_linked=project_linked_exists(),
            is_traceable=project_traceable_exists(),
            budget_sum=BUDGET_TOTAL,
            feature_count=figures["feature_count"],
            features_traced=figures["features_traced"],
        ),
        user,
    )
    projects = projects.filter(is_traceable=False)
    return projects if history else projects.filter(status__in=_LIVE)


def untraced_project_nodes(page: Any, *, history: bool = False) -> list[Node]:
    """Map nodes for a page of untraced_projects(), each opening onto its features."""
    return [
        Node(
            kind="project",
            id=project.pk,
            title=project.title,
            status=project.status,
            traceable=False,
            note=_untraced_note(project.is_linked),
            health=Health(project.feature_count, project.features_traced, None, noun="feature"),
            branch_url=branch_url("project", project.pk, history=history),
        )
        for project in page
    ]


def untraced_features(user: Any, *, history: bool = False) -> QuerySet[Feature]:
    """Features that do not trace (dropped ones left out; of live projects unless
    `history`), for the features' FilterSet."""
    # Not features_with_trace(): its off-scope annotation is a hashed subplan over every
    # feature link, built before the first row; the filters need linked and traceable only.
    features: QuerySet[Any] = visible_to(
        Feature.objects.select_related("project").annotate(
            is_linked=feature_linked_exists(), is_traceable=feature_traceable_exists()
        ),
        user,
    )
    features = features.filter(is_traceable=False).exclude(status=FeatureStatus.DROPPED)
    return features if history else features.filter(project__status__in=_LIVE)


def untraced_feature_nodes(page: Any) -> list[Node]:
    return [
        Node(
            kind="feature",
            id=feature.pk,
            title=feature.title,
            status=feature.status,
            traceable=False,
            note=feature.project.title,
        )
        for feature in page
    ]
