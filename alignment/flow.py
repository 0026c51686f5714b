"""The visual strategy map: goal → business strategy → CRM strategy (→ the projects of one
opened CRM strategy) as columns of boxes joined by links as wide as the money they carry.

Everything comes from the strategy map's own reads: the first screen (goals, their business
strategies, the CRM strategies that serve none), the CRM strategies serving the business
strategies on it (the catalogue, not the portfolio), and a page of one CRM strategy's projects
when it is opened. The money is what the last full scan recorded (investment by business
strategy, and per serving `map_flow`); a project's link is its budget. So the picture costs
the same whatever the number of projects. This module only lays out: the template draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import F

from core.permissions import visible_to
from strategies.models import CRMStrategyServes, StrategyStatus
from strategies.trace import anchored_crm_strategy_exists

from .strategy_map import Branch, FirstScreen, Node, branch_url

COLUMN_WIDTH = 210
COLUMN_GAP = 90
NODE_HEIGHT = 40
ROW_GAP = 10
TOP = 30  # room for the column headings
TITLE_CHARS = 28
MIN_LINK = 1.5
MAX_LINK = 18.0

COLUMNS = ("Goals", "Business strategies", "CRM strategies", "Projects")


def node_state(node: Node) -> str:
    """What a box's colour says: loose (hangs loose: an untraced project, or an active CRM
    strategy that reaches no goal), inactive (not active: out of the chain by choice),
    unmeasured (no full scan has counted it), flagged (open flags under it) or healthy."""
    if node.hangs_loose or (
        node.kind == "crm_strategy" and not node.traceable and node.status == StrategyStatus.ACTIVE
    ):
        return "loose"
    if not node.traceable:
        return "inactive"
    if node.health is None or node.health.flags is None:
        return "unmeasured" if node.kind != "project" else "healthy"
    if node.health.flags:
        return "flagged"
    return "healthy"


STATE_LABELS = {
    "healthy": "traces, no open flags",
    "flagged": "has open flags",
    "loose": "does not trace",
    "inactive": "not active",
    "unmeasured": "not counted yet",
}


@dataclass
class Box:
    node: Node
    column: int
    row: int
    state: str
    expand_url: str = ""  # a CRM strategy's "show its projects" address on this page
    expanded: bool = False

    @property
    def x(self) -> int:
        return self.column * (COLUMN_WIDTH + COLUMN_GAP)

    @property
    def y(self) -> int:
        return TOP + self.row * (NODE_HEIGHT + ROW_GAP)

    @property
    def right(self) -> int:
        return self.x + COLUMN_WIDTH

    @property
    def middle(self) -> int:
        return self.y + NODE_HEIGHT // 2

    @property
    def short_title(self) -> str:
        title = self.node.title
        # A CRM strategy's box keeps room for its "show the projects" button.
        room = TITLE_CHARS - 6 if self.expand_url else TITLE_CHARS
        return title if len(title) <= room else title[: room - 1] + "…"

    @property
    def detail(self) -> str:
        """The box's second line: its health, briefly."""
        health = self.node.health
        if self.node.kind == "project":
            status = "does not trace" if self.state == "loose" else self.node.status_label
            n = (health.flags or 0) if health else 0
            return f"{status} · {n} flag{'s' * (n != 1)}" if n else status
        if health is None:
            return self.node.status_label if self.state == "inactive" else "not counted yet"
        flags = "" if health.flags is None else f" · {health.flags} flag{'s' * (health.flags != 1)}"
        return f"{health.items} {health.noun}{'s' * (health.items != 1)}{flags}"

    @property
    def label(self) -> str:
        """What a screen reader hears for the box's link."""
        return (
            f"{self.node.kind_label} {self.node.title}: {self.detail}, {STATE_LABELS[self.state]}"
        )


@dataclass
class Link:
    source: Box
    target: Box
    amount: Decimal | None
    width: float = MIN_LINK

    @property
    def path(self) -> str:
        x1, y1, x2, y2 = self.source.right, self.source.middle, self.target.x, self.target.middle
        bend = (x2 - x1) / 2
        return f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"

    @property
    def loose(self) -> bool:
        return self.target.state in ("loose", "inactive") or self.source.state == "inactive"


@dataclass
class Flow:
    boxes: list[Box]
    links: list[Link]
    columns: list[tuple[int, str]]
    width: int
    height: int
    has_money: bool  # the last full scan recorded the money per link
    opened: Box | None = None
    branch: Branch | None = None
    untraced_projects: int | None = None
    notes: list[str] = field(default_factory=list)


def stored_flow(figures: dict[str, Any] | None) -> dict[tuple[int, int], Decimal] | None:
    """The money per (CRM strategy, business strategy) a snapshot kept; None before a scan
    recorded it."""
    stored = (figures or {}).get("map_flow")
    if stored is None:
        return None
    flow = {}
    for key, amount in stored.items():
        cs, bs = key.split(":")
        flow[(int(cs), int(bs))] = Decimal(amount)
    return flow


def serving_crm_strategies(
    user: Any, business_ids: list[int], health: dict[int, Any], *, history: bool
) -> tuple[list[Node], list[tuple[int, int]]]:
    """The CRM strategies serving these business strategies, and the servings (crm, bs).
    One query over the strategy catalogue (a serving a row)."""
    rows = list(
        visible_to(CRMStrategyServes.objects.filter(business_strategy_id__in=business_ids), user)
        .annotate(is_anchored=anchored_crm_strategy_exists("crm_strategy_id"))
        .order_by("crm_strategy__title", "crm_strategy_id", "business_strategy_id")
        .values(
            "crm_strategy_id",
            "business_strategy_id",
            "is_anchored",
            title=F("crm_strategy__title"),
            status=F("crm_strategy__status"),
        )
    )
    nodes: dict[int, Node] = {}
    for row in rows:
        pk = row["crm_strategy_id"]
        if pk not in nodes:
            nodes[pk] = Node(
                kind="crm_strategy",
                id=pk,
                title=row["title"],
                status=row["status"],
                traceable=row["is_anchored"],
                health=health.get(pk),
                branch_url=branch_url("crm_strategy", pk, history=history),
            )
    servings = [(row["crm_strategy_id"], row["business_strategy_id"]) for row in rows]
    return list(nodes.values()), servings


def layout(
    screen: FirstScreen,
    crm_nodes: list[Node],
    servings: list[tuple[int, int]],
    *,
    money_by_bs: dict[int, Decimal] | None,
    money_by_serving: dict[tuple[int, int], Decimal] | None,
    expand_url: Any,
    opened: int | None = None,
    branch: Branch | None = None,
) -> Flow:
    """Places the boxes in their columns, in the text tree's order (a CRM strategy beside the
    first business strategy it serves, those serving none last), and sizes each link by its
    money against the largest."""
    boxes: list[Box] = []
    links: list[Link] = []
    by_bs: dict[int, Box] = {}
    row = [0, 0, 0, 0]
    for goal in screen.goals:
        children = goal.children or []
        # A goal sits level with its first business strategy; its strategies follow it.
        start = max(row[0], row[1])
        goal_box = Box(goal, 0, start, node_state(goal))
        boxes.append(goal_box)
        row[0], row[1] = start + 1, start
        for child in children:
            box = Box(child, 1, row[1], node_state(child))
            boxes.append(box)
            by_bs[child.id] = box
            amount = money_by_bs.get(child.id) if money_by_bs is not None else None
            links.append(Link(goal_box, box, amount))
            row[1] += 1
        row[1] = max(row[0], row[1])
    first_bs: dict[int, int] = {}
    for cs, bs in servings:
        if bs in by_bs:
            first_bs.setdefault(cs, by_bs[bs].row)
    placed: dict[int, Box] = {}
    ordered = sorted(crm_nodes, key=lambda node: (first_bs.get(node.id, 0), node.title))
    for node in [*ordered, *screen.loose_crm_strategies]:
        if node.id in placed:
            continue
        box = Box(node, 2, row[2], node_state(node), expand_url=expand_url(node.id))
        box.expanded = node.id == opened
        placed[node.id] = box
        boxes.append(box)
        row[2] += 1
    for cs, bs in servings:
        if cs in placed and bs in by_bs:
            money = money_by_serving.get((cs, bs)) if money_by_serving is not None else None
            links.append(Link(by_bs[bs], placed[cs], money))
    opened_box = placed.get(opened) if opened is not None else None
    if opened_box is not None and branch is not None:
        row[3] = opened_box.row
        for node in branch.nodes:
            box = Box(node, 3, row[3], node_state(node))
            boxes.append(box)
            links.append(Link(opened_box, box, node.amount))
            row[3] += 1
    amounts = [link.amount for link in links if link.amount]
    top = max(amounts, default=Decimal(0))
    for link in links:
        if link.amount and top:
            link.width = round(MIN_LINK + (MAX_LINK - MIN_LINK) * float(link.amount / top), 1)
    n_columns = 4 if opened_box is not None else 3
    return Flow(
        boxes=boxes,
        links=links,
        columns=[(i * (COLUMN_WIDTH + COLUMN_GAP), COLUMNS[i]) for i in range(n_columns)],
        width=n_columns * COLUMN_WIDTH + (n_columns - 1) * COLUMN_GAP,
        height=TOP + max(max(row), 1) * (NODE_HEIGHT + ROW_GAP),
        has_money=money_by_serving is not None,
        opened=opened_box,
        branch=branch,
    )
