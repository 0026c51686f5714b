"""A synthetic portfolio of any size, for benchmarks and scale tests (`generate_portfolio`).

The whole chain is generated: goals with KPIs, business strategies, CRM strategies and what
they serve, departments, people in every role, projects with links, features with links,
success metrics (some with readings), roadmap phases (some with a go-live milestone),
check-ins, a systems catalogue and the systems projects touch. The mix is realistic and every
rule of the catalogue finds something: untraced projects and features, broken chains, off-scope
features, unanchored CRM strategies, unserved business strategies, a goal with no strategy,
projects without sponsor, metrics or roadmap, IT-only and technology-only projects, stalled
projects, overloaded managers, departments and CRM strategies, integrations unplanned near
go-live and benefits never measured after it.

Deterministic: a project's (or feature's) every property is a function of its number and the
seed, through a small integer hash written once in SQL. The first `SHOWCASE` projects each
carry one problem on purpose (and feature-level ones), so even a portfolio of a few dozen
projects has every rule's condition; past them problems occur at realistic rates.

Fast at any size: the small tables (people, goals, strategies, departments, KPIs) are written
with `bulk_create`; the large ones with one `INSERT … SELECT` each over a series of numbers
(`generate_series` on PostgreSQL, a recursive CTE on SQLite), so 100,000 projects with
1,000,000 features take seconds to a minute, not hours. Rows get explicit ids (after the
largest existing one; sequences are reset afterwards), which is how a feature finds its
project without a lookup. Nothing goes through the services: no history, no re-checks queued.

Generated people cannot sign in (unusable passwords); their e-mail addresses end in
`GENERATED_EMAIL_DOMAIN`, which is how `clear_portfolio` finds them again.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from alignment.models import Flag, Scan, Snapshot
from core.roles import Role
from goals.models import KPI, BusinessGoal, Direction, GoalStatus, KPICheckIn
from onboarding.models import ImportJob
from projects.models import (
    CRMProject,
    Department,
    Feature,
    FeatureLink,
    MetricReading,
    ProjectCheckIn,
    ProjectDecision,
    ProjectLink,
    ProjectSystem,
    ProjectUserGroup,
    RoadmapPhase,
    SuccessMetric,
    System,
    UserGroup,
)
from strategies.models import BusinessStrategy, CRMStrategy, CRMStrategyServes, StrategyStatus

GENERATED_EMAIL_DOMAIN = "generated.example"

# The first projects, each with one deliberate problem (or a deliberately clean control).
SHOWCASE = 14

_P = 1_000_003  # a prime: the hash works modulo it
_MULTIPLIERS = [
    1_103_515_245,
    2_147_483_629,
    1_664_525_013,
    1_299_709_001,
    1_866_287_231,
    1_572_869_011,
    1_948_264_801,
    1_717_986_917,
]


def portfolio_hash(seed: int, channel: int, number: int, modulo: int | None = 1000) -> int:
    """The generator's hash in Python (the SQL below computes the same): a pseudo-random
    integer in [0, modulo) — or [0, 1,000,003) — for one property (`channel`) of one row."""
    offset = (seed * 7919 + channel * 104_729) % _P
    y = (number + offset) % _P
    z = ((y * y) % _P * _MULTIPLIERS[channel % len(_MULTIPLIERS)] + channel * 31_337 + 1) % _P
    value = (z * z) % _P
    return value if modulo is None else value % modulo


# --- Words --------------------------------------------------------------------------------------

GOAL_THEMES = [
    "Grow revenue while maintaining profit margin",
    "Keep more of the customers we already have",
    "Become the easiest supplier to do business with",
    "Win the mid-market in our home countries",
    "Raise share of wallet in key accounts",
    "Cut the cost to serve without hurting satisfaction",
    "Launch the subscription business",
    "Turn service into a profit centre",
]
SEGMENTS = [
    "Emerging markets",
    "Mature markets",
    "Mid-market",
    "Top 100 accounts",
    "Public sector",
    "Small business",
    "Partners and resellers",
    "Online customers",
]
BUSINESS_THEMES = [
    "Win share through local partners",
    "Protect revenue in the largest accounts",
    "Grow through direct telesales",
    "Prevent churn with proactive service",
    "Cross-sell services to product customers",
    "Move small customers to self-service",
    "Bundle products into end-to-end solutions",
    "Price by value, not by volume",
]
CRM_THEMES = [
    "Recruit, develop and enable local partners",
    "End-to-end solution selling to enterprise customers",
    "Mid-market telesales lead factory",
    "Service-led retention of at-risk customers",
    "One view of the customer across sales and service",
    "Self-service portal for small customers",
    "Account planning for key accounts",
    "Campaigns driven by customer value",
    "Field service scheduling and follow-up",
    "Loyalty and renewal management",
]
PROJECT_THEMES = [
    "Partner portal",
    "Partner certification programme",
    "Account plans roll-out",
    "Unified customer view",
    "Proactive service desk",
    "Sales force automation",
    "Marketing automation upgrade",
    "Telesales dialler",
    "Mobile sales app",
    "Social listening pilot",
    "Customer master data clean-up",
    "Service-level reviews",
    "Renewal desk",
    "Quote-to-cash streamlining",
    "Case routing overhaul",
    "Loyalty programme relaunch",
]
FEATURE_THEMES = [
    "Deal registration",
    "Lead scoring model",
    "Account hierarchy",
    "Case escalation rules",
    "Renewal reminders",
    "Partner onboarding wizard",
    "Opportunity stage gates",
    "Customer health score",
    "Email journey builder",
    "Territory assignment",
    "Knowledge base search",
    "Contract expiry alerts",
    "Quote approval flow",
    "Field visit planner",
    "Churn risk dashboard",
    "Survey follow-up tasks",
]
METRIC_NAMES = [
    "Win rate",
    "Customer retention",
    "Revenue from partners",
    "Average deal size",
    "First-contact resolution",
    "Net promoter score",
    "Forecast accuracy",
    "Cost to serve",
]
RATIONALES = [
    "Serves this CRM strategy directly.",
    "Builds the capability it needs.",
    "Removes the main obstacle to it.",
    "Gives the sales teams what it asks of them.",
]
DEPARTMENT_NAMES = [
    "Sales Operations",
    "Customer Service",
    "Key Account Management",
    "Marketing",
    "Partner Channel",
]
FIRST_NAMES = [
    "Elena",
    "Priya",
    "Samuel",
    "Victor",
    "Lucas",
    "Aiko",
    "Grace",
    "Nadia",
    "James",
    "Carmen",
    "Olivia",
    "Tomás",
    "Ingrid",
    "Kwame",
    "Mei",
    "Rafael",
]
SYSTEM_NAMES = [
    "ERP",
    "Billing",
    "Marketing automation",
    "Data warehouse",
    "Partner portal",
    "Identity",
    "Telephony",
    "E-commerce",
]
LAST_NAMES = [
    "Marsh",
    "Nair",
    "Okafor",
    "Lindqvist",
    "Meyer",
    "Tanaka",
    "Hill",
    "Khan",
    "Whitfield",
    "Ruiz",
    "Brandt",
    "Novak",
    "Haddad",
    "Mensah",
    "Chen",
    "Silva",
]


# --- The shape ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """How many of each kind a portfolio of `projects` projects gets."""

    projects: int
    features_per_project: int
    seed: int = 1

    @property
    def goals(self) -> int:
        return max(5, round(self.projects / 2000))

    @property
    def business_strategies(self) -> int:
        return 4 * self.goals

    @property
    def crm_strategies(self) -> int:
        return 10 * self.goals

    @property
    def user_groups(self) -> int:
        # Few enough that a group gathers several go-lives a month: collisions to flag.
        return max(3, self.projects // 40)

    @property
    def departments(self) -> int:
        return max(6, self.projects // 10)

    @property
    def executives(self) -> int:
        return max(2, self.goals)

    @property
    def sponsors(self) -> int:
        return max(3, self.projects // 50)

    @property
    def managers(self) -> int:
        return max(3, self.projects // 10)

    @property
    def viewers(self) -> int:
        return max(2, self.projects // 100)


@dataclass
class Generated:
    """What was written, per kind, and how long it took."""

    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    executive_username: str = ""


# --- SQL helpers ---------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Sql:
    """Builds the vendor-neutral SQL of the generator: series, hashes, literals, picks."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.postgres = connection.vendor == "postgresql"

    def series(self, count: int, alias: str = "s") -> str:
        """A FROM item with one column `i` running 0 … count-1."""
        if self.postgres:
            return f"generate_series(0, {count - 1}) AS {alias}(i)"
        return (
            f"(WITH RECURSIVE q(v) AS (SELECT 0 UNION ALL SELECT v + 1 FROM q WHERE v < "
            f"{count - 1}) SELECT v AS i FROM q) AS {alias}"
        )

    def h(self, channel: int, expr: str, modulo: int | None = 1000) -> str:
        """`portfolio_hash` in SQL (64-bit integer arithmetic on both databases)."""
        offset = (self.seed * 7919 + channel * 104_729) % _P
        multiplier = _MULTIPLIERS[channel % len(_MULTIPLIERS)]
        y = f"((CAST({expr} AS BIGINT) + {offset}) % {_P})"
        z = f"((({y} * {y}) % {_P} * {multiplier} + {channel * 31_337 + 1}) % {_P})"
        value = f"(({z} * {z}) % {_P})"
        return value if modulo is None else f"({value} % {modulo})"

    def date(self, day: datetime.date) -> str:
        if self.postgres:
            return f"CAST('{day.isoformat()}' AS date)"
        return _quote(day.isoformat())

    def date_plus(self, day: datetime.date, days: str) -> str:
        """The date `days` (an integer SQL expression) after `day`."""
        if self.postgres:
            return f"(CAST('{day.isoformat()}' AS date) + CAST({days} AS INTEGER))"
        return f"date('{day.isoformat()}', '+' || ({days}) || ' days')"

    def boolean(self, condition: str) -> str:
        return (
            f"(CASE WHEN {condition} THEN TRUE ELSE FALSE END)"
            if self.postgres
            else (f"(CASE WHEN {condition} THEN 1 ELSE 0 END)")
        )

    def timestamp(self, moment: datetime.datetime) -> str:
        if self.postgres:
            return f"CAST('{moment.isoformat()}' AS timestamptz)"
        return _quote(str(connection.ops.adapt_datetimefield_value(moment)))

    @staticmethod
    def pick(index: str, values: Sequence[str]) -> str:
        """CASE index WHEN 0 THEN values[0] … (values are SQL expressions)."""
        whens = " ".join(f"WHEN {i} THEN {v}" for i, v in enumerate(values))
        return f"(CASE {index} {whens} END)"

    def pick_text(self, index: str, words: Sequence[str]) -> str:
        return self.pick(f"({index}) % {len(words)}", [_quote(w) for w in words])

    @staticmethod
    def text(expr: str) -> str:
        return f"CAST({expr} AS TEXT)"


# --- Clearing -----------------------------------------------------------------------------------

# Child tables first; every table the generator writes, plus the engine's and the imports'
# records of them.
_PORTFOLIO_MODELS: list[type[Model]] = [
    ImportJob,  # an import's record refers to the scan it ended with
    Flag,
    Snapshot,
    Scan,
    ProjectDecision,  # a project's approval thread
    MetricReading,
    ProjectSystem,
    ProjectCheckIn,
    RoadmapPhase,
    SuccessMetric,
    FeatureLink,
    Feature,
    ProjectLink,
    ProjectUserGroup,
    CRMProject,
    UserGroup,
    System,
    CRMStrategyServes,
    CRMStrategy,
    BusinessStrategy,
    KPICheckIn,
    KPI,
    BusinessGoal,
    Department,
]


def clear_portfolio() -> None:
    """Delete the whole portfolio (every project, strategy, goal, department, flag, scan) and
    the generated people: the reset `bench` does between two scales of a scratch database.
    Raw SQL, so no signal queues a re-check for a million deleted rows."""
    quote = connection.ops.quote_name
    tables = [quote(m._meta.db_table) for m in _PORTFOLIO_MODELS]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One TRUNCATE of them all; it refuses (rather than cascades) if another table
            # still refers to them. Inside a longer transaction, foreign-key checks of rows
            # written earlier are still pending: run them first, or TRUNCATE refuses.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {', '.join(tables)}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
    user_model = get_user_model()
    generated = user_model.objects.filter(email__endswith=f"@{GENERATED_EMAIL_DOMAIN}")
    generated.delete()


# --- Generating ---------------------------------------------------------------------------------


def _with_explicit_ids() -> list[type[Model]]:
    """The tables whose rows the generator numbers itself (others are referred to by none)."""
    return [
        get_user_model(),
        BusinessGoal,
        BusinessStrategy,
        CRMStrategy,
        Department,
        UserGroup,
        CRMProject,
        Feature,
        System,
    ]


def _next_id(model: Any) -> int:
    """The id after the largest one in use (0 on an empty table)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(id) FROM {connection.ops.quote_name(model._meta.db_table)}")
        row = cursor.fetchone()
    return int(row[0] or 0) if row else 0


class _Generator:
    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.sql = _Sql(shape.seed)
        self.now = timezone.now()
        self.today = timezone.localdate(self.now)
        self.result = Generated()

    def hp(self, channel: int, number: int, modulo: int | None = 1000) -> int:
        return portfolio_hash(self.shape.seed, channel, number, modulo)

    def day(self, offset: int) -> datetime.date:
        return self.today + datetime.timedelta(days=offset)

    def count(self, kind: str, n: int) -> None:
        self.result.counts[kind] = self.result.counts.get(kind, 0) + max(n, 0)

    def run(self) -> Generated:
        started = time.perf_counter()
        with transaction.atomic():
            if self.sql.postgres:
                # Explicit ids after the largest in use: keep other writers out until commit.
                tables = ", ".join(
                    connection.ops.quote_name(m._meta.db_table) for m in _with_explicit_ids()
                )
                with connection.cursor() as cursor:
                    cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")
            self.people()
            self.chain()
            self.departments()
            self.user_groups()
            self.projects()
            self.features()
            self.reset_sequences()
        if self.sql.postgres:
            # Planner statistics now, as autovacuum would soon: without them every plan on the
            # new rows assumes empty tables.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.result.seconds = time.perf_counter() - started
        return self.result

    # --- people, chain, departments (small: bulk_create) ---

    def people(self) -> None:
        shape = self.shape
        user_model = get_user_model()
        groups = {role: Group.objects.get_or_create(name=role)[0] for role in Role.values}
        base = _next_id(user_model)
        plan = [
            ("exec", Role.EXECUTIVE, shape.executives),
            ("sponsor", Role.SPONSOR, shape.sponsors),
            ("pm", Role.PROJECT_MANAGER, shape.managers),
            ("viewer", Role.VIEWER, shape.viewers),
        ]
        users = []
        memberships = []
        self.user_ids: dict[str, int] = {}
        next_id = base + 1
        membership = user_model.groups.through
        for prefix, role, n in plan:
            self.user_ids[prefix] = next_id
            for _ in range(n):
                username = f"{prefix}.{next_id}"
                users.append(
                    user_model(
                        pk=next_id,
                        username=username,
                        # An unusable password: generated people cannot sign in.
                        password="!generated",
                        first_name=FIRST_NAMES[self.hp(1, next_id) % len(FIRST_NAMES)],
                        last_name=LAST_NAMES[self.hp(2, next_id) % len(LAST_NAMES)],
                        email=f"{username}@{GENERATED_EMAIL_DOMAIN}",
                        date_joined=self.now,
                    )
                )
                memberships.append(membership(user_id=next_id, group_id=groups[role].pk))
                next_id += 1
        user_model.objects.bulk_create(users, batch_size=2000)
        membership.objects.bulk_create(memberships, batch_size=2000)
        self.result.executive_username = f"exec.{self.user_ids['exec']}"
        self.count("users", len(users))

    def executive(self, n: int) -> int:
        return self.user_ids["exec"] + n % self.shape.executives

    def chain(self) -> None:
        shape = self.shape
        goal_base = _next_id(BusinessGoal)
        goals = []
        goal_status: dict[int, str] = {}
        for g in range(shape.goals):
            status: str = GoalStatus.ACTIVE
            if g % 5 == 4:
                status = GoalStatus.RETIRED
            elif g % 10 == 6:
                status = GoalStatus.DRAFT
            elif g % 10 == 7:
                status = GoalStatus.ACHIEVED
            pk = goal_base + 1 + g
            goal_status[g] = status
            owner = self.executive(g)
            goals.append(
                BusinessGoal(
                    pk=pk,
                    title=f"{GOAL_THEMES[g % len(GOAL_THEMES)]} #{pk}",
                    description="A goal of the generated portfolio.",
                    owner_id=owner,
                    updated_by_id=owner,
                    status=status,
                    priority=1 + g % 3,
                    horizon_start=self.day(-365),
                    horizon_end=self.day(365 * (1 + g % 3)),
                )
            )
        BusinessGoal.objects.bulk_create(goals)
        self.count("goals", len(goals))
        self.kpis(goals)

        business_base = _next_id(BusinessStrategy)
        business = []
        live: list[int] = []  # active, under an active goal
        dead: list[int] = []
        for b in range(shape.business_strategies):
            g = b // 4
            if g == 1:  # an active goal whose strategies are all retired or draft
                bs_status = StrategyStatus.RETIRED if b % 4 < 2 else StrategyStatus.DRAFT
            elif b % 13 == 11:
                bs_status = StrategyStatus.DRAFT
            elif b % 9 == 7:
                bs_status = StrategyStatus.RETIRED
            else:
                bs_status = StrategyStatus.ACTIVE
            pk = business_base + 1 + b
            owner = self.executive(g)
            business.append(
                BusinessStrategy(
                    pk=pk,
                    goal_id=goal_base + 1 + g,
                    title=f"{BUSINESS_THEMES[b % len(BUSINESS_THEMES)]} #{pk}",
                    description="How the generated portfolio reaches its goal.",
                    scope=SEGMENTS[b % len(SEGMENTS)],
                    owner_id=owner,
                    updated_by_id=owner,
                    status=bs_status,
                )
            )
            alive = bs_status == StrategyStatus.ACTIVE and goal_status[g] == GoalStatus.ACTIVE
            (live if alive else dead).append(pk)
        BusinessStrategy.objects.bulk_create(business)
        self.count("business strategies", len(business))
        # Every sixth live business strategy is served by no CRM strategy at all.
        unserved = [pk for i, pk in enumerate(live) if i % 6 == 5] or live[-1:]
        served = [pk for pk in live if pk not in unserved] or live

        # CRM strategies by kind: the good ones (active, serving a live business strategy)
        # get the lowest ids, so SQL picks one as `base + n % good`.
        kinds: list[tuple[str, list[int]]] = []
        for c in range(shape.crm_strategies):
            kind = c % 20
            if kind == 16 and dead:  # serves only retired/draft strategies or goals
                kinds.append((StrategyStatus.ACTIVE, [dead[c % len(dead)]]))
            elif kind == 17:
                kinds.append((StrategyStatus.DRAFT, [served[c % len(served)]]))
            elif kind == 18:
                kinds.append((StrategyStatus.RETIRED, [served[c % len(served)]]))
            elif kind in (16, 19):  # serves nothing: a tool, not a strategy
                kinds.append((StrategyStatus.ACTIVE, []))
            else:
                targets = [served[c % len(served)]]
                if c % 3 == 0:
                    targets.append(served[(c * 7 + 3) % len(served)])
                if c % 7 == 2 and dead:
                    targets.append(dead[c % len(dead)])
                kinds.append(("good", list(dict.fromkeys(targets))))
        ordered = [k for k in kinds if k[0] == "good"] + [k for k in kinds if k[0] != "good"]
        self.good = sum(1 for k in kinds if k[0] == "good")
        self.broken = len(kinds) - self.good
        self.crm_base = _next_id(CRMStrategy) + 1
        crm = []
        serves: list[CRMStrategyServes] = []
        for c, (crm_status, targets) in enumerate(ordered):
            pk = self.crm_base + c
            owner = self.executive(c)
            crm.append(
                CRMStrategy(
                    pk=pk,
                    title=f"{CRM_THEMES[c % len(CRM_THEMES)]} #{pk}",
                    description="A CRM strategy of the generated portfolio.",
                    customer_need="Customers want one answer, fast.",
                    capability_people="Trained, rewarded teams.",
                    capability_process="One way of working across countries.",
                    capability_technology="The CRM platform.",
                    owner_id=owner,
                    updated_by_id=owner,
                    status=StrategyStatus.ACTIVE if crm_status == "good" else crm_status,
                )
            )
            serves.extend(
                CRMStrategyServes(crm_strategy_id=pk, business_strategy_id=target)
                for target in targets
            )
        CRMStrategy.objects.bulk_create(crm)
        CRMStrategyServes.objects.bulk_create(serves)
        self.count("CRM strategies", len(crm))
        self.count("servings", len(serves))

    def kpis(self, goals: list[BusinessGoal]) -> None:
        kpis = []
        for g, goal in enumerate(goals):
            for k, name in enumerate(["Revenue growth", "Customer retention"]):
                baseline = Decimal(10 + (g + k) % 7)
                decrease = (g + k) % 4 == 3
                kpis.append(
                    KPI(
                        goal=goal,
                        name=name,
                        unit="%",
                        baseline=baseline,
                        target=baseline - 3 if decrease else baseline + 5,
                        current=baseline - 1 if decrease else baseline + 2,
                        direction=Direction.DECREASE if decrease else Direction.INCREASE,
                        due_date=self.day(365),
                        updated_by_id=goal.owner_id,
                    )
                )
        KPI.objects.bulk_create(kpis)
        readings = [
            KPICheckIn(
                kpi=kpi,
                value=kpi.baseline + Decimal(step) / 2 * (-1 if kpi.target < kpi.baseline else 1),
                recorded_on=self.day(-90 * (3 - step)),
                recorded_by_id=kpi.updated_by_id,
            )
            for kpi in kpis
            for step in range(3)
        ]
        KPICheckIn.objects.bulk_create(readings)
        self.count("KPIs", len(kpis))
        self.count("KPI readings", len(readings))

    def departments(self) -> None:
        base = _next_id(Department)
        rows = []
        for d in range(self.shape.departments):
            pk = base + 1 + d
            is_it = d % 6 == 5
            name = "IT Applications" if is_it else DEPARTMENT_NAMES[d % len(DEPARTMENT_NAMES)]
            rows.append(Department(pk=pk, name=f"{name} #{pk}", is_it=is_it))
        Department.objects.bulk_create(rows, batch_size=2000)
        self.department_base = base + 1
        self.count("departments", len(rows))

    def user_groups(self) -> None:
        base = _next_id(UserGroup)
        rows = [
            UserGroup(pk=base + 1 + g, name=f"Generated user group #{base + 1 + g}")
            for g in range(self.shape.user_groups)
        ]
        UserGroup.objects.bulk_create(rows, batch_size=2000)
        self.user_group_base = base + 1
        self.count("user groups", len(rows))

    # --- projects and what hangs off them (large: INSERT … SELECT) ---

    def execute(self, kind: str | None, sql: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            if kind:
                self.count(kind, cursor.rowcount)

    def project_expressions(self, n: str) -> dict[str, str]:
        """SQL expressions of project number `n` (0-based), shared by every statement that
        needs them: status, link category and the links' CRM strategy ids."""
        sql = self.sql
        good, broken, base = self.good, self.broken, self.crm_base
        normal = f"({n} >= {SHOWCASE})"
        hl = sql.h(10, n)
        hs = sql.h(11, n)
        # Showcase statuses: see `showcase_status`.
        status = (
            f"(CASE WHEN {n} IN (0, 1, 3, 5, 7, 8, 9, 10, 11, 12) THEN 'active' "
            f"WHEN {n} IN (2, 4) THEN 'approved' WHEN {n} = 6 THEN 'proposed' "
            f"WHEN {n} = 13 THEN 'done' "
            f"WHEN {hs} < 120 THEN 'proposed' WHEN {hs} < 250 THEN 'approved' "
            f"WHEN {hs} < 600 THEN 'active' WHEN {hs} < 650 THEN 'on_hold' "
            f"WHEN {hs} < 950 THEN 'done' ELSE 'cancelled' END)"
        )
        untraced = f"({n} = 0 OR ({normal} AND {hl} < 50))"
        broken_chain = f"({n} = 1 OR ({normal} AND {hl} >= 50 AND {hl} < 90))"
        traced = f"(NOT {untraced} AND NOT {broken_chain})"
        a = sql.h(12, n, None)
        b = sql.h(13, n, None)
        good_first = f"(CASE WHEN {normal} THEN {base} + {a} % {good} ELSE {base} END)"
        broken_first = (
            f"(CASE WHEN {normal} THEN {base + good} + {b} % {broken} ELSE {base + good} END)"
        )
        second_good = (
            f"({base} + ({a} + 1 + {sql.h(14, n, None)} % {max(good - 1, 1)}) % {good})"
            if good > 1
            else "NULL"
        )
        second_broken = (
            f"({base + good} + ({b} + 1 + {sql.h(14, n, None)} % {max(broken - 1, 1)}) % {broken})"
            if broken > 1
            else "NULL"
        )
        hn = sql.h(15, n)
        return {
            "status": status,
            "normal": normal,
            "untraced": untraced,
            "broken": broken_chain,
            "traced": traced,
            # The project's links: the first, a second (some), a third to a broken strategy.
            "link1": (
                f"(CASE WHEN {untraced} THEN NULL WHEN {broken_chain} THEN {broken_first} "
                f"ELSE {good_first} END)"
            ),
            "link2": (
                f"(CASE WHEN NOT {normal} OR {untraced} THEN NULL "
                f"WHEN {broken_chain} THEN (CASE WHEN {hn} % 2 = 0 THEN {second_broken} END) "
                f"WHEN {hn} < 400 THEN {second_good} END)"
            ),
            "link3": f"(CASE WHEN {normal} AND {traced} AND {hn} < 80 THEN {broken_first} END)",
            # The feature links' "own strategy": the project's first link, or for an unlinked
            # project the strategy its features claim anyway (so they are off scope).
            "primary": f"(CASE WHEN {broken_chain} THEN {broken_first} ELSE {good_first} END)",
            "second_good": second_good,
        }

    def projects(self) -> None:
        shape, sql = self.shape, self.sql
        n_projects = shape.projects
        if n_projects <= 0:
            return
        self.project_base = _next_id(CRMProject) + 1
        pid = f"({self.project_base} + s.i)"
        n = "s.i"
        e = self.project_expressions(n)
        normal = e["normal"]
        now = sql.timestamp(self.now)
        users = self.user_ids
        manager = (
            f"(CASE WHEN NOT {normal} THEN {users['pm']} "
            f"ELSE {users['pm']} + {n} % {shape.managers} END)"
        )
        hsp = sql.h(20, n)
        sponsor = (
            f"(CASE WHEN {n} = 2 OR ({normal} AND {hsp} < 30) THEN NULL "
            f"WHEN NOT {normal} THEN {users['sponsor']} "
            f"ELSE {users['sponsor']} + {sql.h(21, n, None)} % {shape.sponsors} END)"
        )
        it_department = self.department_base + 5  # d % 6 == 5 is IT
        hd = sql.h(22, n)
        department = (
            f"(CASE WHEN {n} = 6 THEN {it_department} "
            f"WHEN NOT {normal} THEN {self.department_base} WHEN {hd} < 30 THEN NULL "
            f"ELSE {self.department_base} + {sql.h(23, n, None)} % {shape.departments} END)"
        )
        hbo = sql.h(24, n)
        business_owner = (
            f"(CASE WHEN {n} = 6 OR ({normal} AND {hbo} < 250) THEN NULL "
            f"ELSE {users['viewer']} + {sql.h(25, n, None)} % {shape.viewers} END)"
        )
        hb = sql.h(26, n)
        tech_only = f"({n} = 7 OR ({normal} AND {hb} < 60))"
        no_budget = f"({normal} AND {hb} >= 60 AND {hb} < 75)"

        def money(channel: int, scale: int, zero_when: str = "1 = 0") -> str:
            return (
                f"(CASE WHEN {tech_only} OR {no_budget} OR {zero_when} THEN 0 "
                f"ELSE {sql.h(channel, n)} * {scale} END)"
            )

        technology = f"(CASE WHEN {no_budget} THEN 0 ELSE 20000 + {sql.h(27, n)} * 480 END)"
        start_offsets = [-400, -250, -150, -90, -45, -20, -5, 15]
        hdt = sql.h(28, n)
        start = (
            f"(CASE WHEN {n} = 9 THEN {sql.date(self.day(-120))} "
            f"WHEN NOT {normal} THEN {sql.date(self.day(-20))} WHEN {hdt} < 100 THEN NULL "
            f"ELSE {sql.pick(f'{hdt} % 8', [sql.date(self.day(o)) for o in start_offsets])} END)"
        )
        end_offsets = [60, 120, 240, 400]
        end = (
            f"(CASE WHEN {normal} AND {hdt} < 150 THEN NULL ELSE "
            f"{sql.pick(f'{hdt} % 4', [sql.date(self.day(o)) for o in end_offsets])} END)"
        )
        approved = f"({e['status']} IN ('approved', 'active', 'on_hold', 'done'))"
        # When it was created: `project.stalled` falls back to that day when a project has
        # neither check-ins nor a start date (some just either side of the default 30 days).
        created_days = [700, 400, 200, 90, 31, 30, 29, 10, 0]
        created = (
            f"(CASE WHEN NOT {normal} THEN {now} ELSE "
            + sql.pick(
                f"{sql.h(38, n)} % {len(created_days)}",
                [sql.timestamp(self.now - datetime.timedelta(days=d)) for d in created_days],
            )
            + " END)"
        )
        title = f"{sql.pick_text(sql.h(29, n), PROJECT_THEMES)} || ' #' || {sql.text(pid)}"
        description = (
            f"(CASE WHEN {sql.h(30, n)} < 500 THEN '' ELSE "
            f"'A CRM initiative of the generated portfolio.' END)"
        )
        notes = (
            f"(CASE WHEN {sql.h(31, n)} < 700 THEN '' ELSE "
            f"'Integrates with ERP billing through the middleware.' END)"
        )
        self.execute(
            "projects",
            f"""
            INSERT INTO projects_crmproject (
                id, created_at, updated_at, updated_by_id, version, title, description,
                manager_id, sponsor_id, department_id, business_owner_id, status,
                start_date, end_date, budget_technology, budget_people, budget_process,
                budget_training, budget_incentives, integration_notes, approved_at,
                approved_by_id)
            SELECT {pid}, {created}, {now}, {manager}, 1, {title}, {description},
                {manager}, {sponsor}, {department}, {business_owner}, {e["status"]},
                {start}, {end}, {technology}, {money(32, 150)},
                {money(33, 60, f"{sql.h(34, n)} < 300")}, {money(35, 30)},
                {money(36, 20, f"{sql.h(37, n)} < 500")}, {notes},
                CASE WHEN {approved} THEN {now} END,
                CASE WHEN {approved} THEN {sponsor} END
            FROM {sql.series(n_projects)}
            """,
        )
        self.project_links(n_projects)
        self.project_user_groups(n_projects)
        self.metrics(n_projects)
        self.metric_readings()
        self.phases(n_projects)
        self.check_ins(n_projects)
        self.systems(n_projects)

    def project_links(self, n_projects: int) -> None:
        sql = self.sql
        e = self.project_expressions("s.i")
        now = sql.timestamp(self.now)
        for slot in ("link1", "link2", "link3"):
            weight = (
                f"(CASE WHEN {sql.h(40, 's.i')} % 3 = 0 THEN NULL "
                f"ELSE 10 * (1 + {sql.h(41, 's.i')} % 10) END)"
            )
            rationale = sql.pick_text(sql.h(42, "s.i"), RATIONALES)
            self.execute(
                "project links",
                f"""
                INSERT INTO projects_projectlink
                    (rationale, weight, created_at, project_id, crm_strategy_id)
                SELECT q.rationale, q.weight, {now}, q.project_id, q.crm
                FROM (SELECT {self.project_base} + s.i AS project_id, {e[slot]} AS crm,
                             {rationale} AS rationale, {weight} AS weight
                      FROM {sql.series(n_projects)}) AS q
                WHERE q.crm IS NOT NULL
                """,
            )

    def metrics(self, n_projects: int) -> None:
        sql = self.sql
        n = "s.i"
        normal = f"({n} >= {SHOWCASE})"
        hm = sql.h(50, n)
        none = f"({n} = 3 OR ({normal} AND {hm} < 60))"
        partial = f"({n} = 4 OR ({normal} AND {hm} >= 60 AND {hm} < 90))"
        now = sql.timestamp(self.now)
        hn = sql.h(51, n)
        first_name = sql.pick_text(hn, METRIC_NAMES)
        second_name = sql.pick_text(f"{hn} + 1", METRIC_NAMES)
        baseline = f"(10 + {sql.h(52, n)} % 60)"
        manager = self._manager_expr(n)
        common = f"{now}, {now}, {manager}, 1, {self.project_base} + {n}"
        self.execute(
            "success metrics",
            f"""
            INSERT INTO projects_successmetric (created_at, updated_at, updated_by_id, version,
                project_id, name, unit, baseline, target, current)
            SELECT {common}, {first_name}, '%', {baseline},
                CASE WHEN {partial} THEN NULL ELSE {baseline} + 5 + {sql.h(53, n)} % 20 END,
                CASE WHEN {sql.h(54, n)} < 600 THEN {baseline} + 2 END
            FROM {sql.series(n_projects)}
            WHERE NOT {none}
            """,
        )
        # Some projects also have a second metric that was never given a baseline.
        self.execute(
            "success metrics",
            f"""
            INSERT INTO projects_successmetric (created_at, updated_at, updated_by_id, version,
                project_id, name, unit, baseline, target, current)
            SELECT {common}, {second_name}, '%', NULL, 50, NULL
            FROM {sql.series(n_projects)}
            WHERE NOT {none} AND NOT {partial} AND {sql.h(55, n)} < 300
            """,
        )

    def project_user_groups(self, n_projects: int) -> None:
        """Two projects in three affect a user group, a few of them two."""
        sql = self.sql
        n = "s.i"
        groups = self.shape.user_groups
        for channel, when in ((70, f"{sql.h(71, n)} < 667"), (72, f"{sql.h(73, n)} < 100")):
            self.execute(
                "project user groups",
                f"""
                INSERT INTO projects_projectusergroup (project_id, user_group_id)
                SELECT {self.project_base} + {n},
                    {self.user_group_base} + ({sql.h(channel, n, None)} + {channel - 70}) % {groups}
                FROM {sql.series(n_projects)}
                WHERE {when}
                  AND NOT EXISTS (
                      SELECT 1 FROM projects_projectusergroup x
                      WHERE x.project_id = {self.project_base} + {n}
                        AND x.user_group_id = {self.user_group_base}
                            + ({sql.h(channel, n, None)} + {channel - 70}) % {groups}
                  )
                """,
            )

    def metric_readings(self) -> None:
        """Readings of some of the new metrics, dated between 250 and 10 days ago (so some
        projects read their metrics after go-live and others never did)."""
        sql = self.sql
        # Only a project's first metric has a baseline: hashed on the project's number, so the
        # same seed reads the same metrics (metric ids are not the generator's).
        number = f"(m.project_id - {self.project_base})"
        hm = sql.h(95, number)
        offsets = [-250, -150, -80, -40, -10]
        on = sql.pick(
            f"{sql.h(96, number)} % {len(offsets)}", [sql.date(self.day(o)) for o in offsets]
        )
        now = sql.timestamp(self.now)
        self.execute(
            "metric readings",
            f"""
            INSERT INTO projects_metricreading (metric_id, recorded_on, value, note, author_id,
                created_at, updated_at, updated_by_id, version)
            SELECT m.id, {on}, m.baseline + 1, 'Measured after the roll-out.', m.updated_by_id,
                {now}, NULL, NULL, 1
            FROM projects_successmetric m
            WHERE m.project_id >= {self.project_base} AND m.baseline IS NOT NULL AND {hm} < 700
            """,
        )

    def systems(self, n_projects: int) -> None:
        """The systems catalogue (small: bulk_create) and the systems projects touch: most
        projects one or two, each integration at some status, a few without an owner."""
        count = max(4, n_projects // 100)
        base = _next_id(System) + 1
        owners = self.user_ids["exec"]
        System.objects.bulk_create(
            System(
                id=base + i,
                name=f"{SYSTEM_NAMES[i % len(SYSTEM_NAMES)]} #{base + i}",
                description="A system CRM projects integrate with.",
                owner_id=owners + i % self.shape.executives,
                created_at=self.now,
                updated_at=self.now,
                version=1,
            )
            for i in range(count)
        )
        self.count("systems", count)
        sql = self.sql
        n = "s.i"
        statuses = ["'not_started'", "'designed'", "'built'", "'tested'", "'live'"]
        status = sql.pick(f"{sql.h(92, n)} % {len(statuses)}", statuses)
        owner = f"(CASE WHEN {sql.h(93, n)} < 150 THEN NULL ELSE {self._manager_expr(n)} END)"
        first = f"({base} + {sql.h(91, n, None)} % {count})"
        second = f"({base} + ({sql.h(91, n, None)} + 1) % {count})"
        now = sql.timestamp(self.now)
        for system, when in ((first, f"{sql.h(90, n)} < 600"), (second, f"{sql.h(94, n)} < 300")):
            self.execute(
                "project systems",
                f"""
                INSERT INTO projects_projectsystem (created_at, updated_at, updated_by_id,
                    version, project_id, system_id, status, owner_id, notes)
                SELECT {now}, {now}, {self._manager_expr(n)}, 1, {self.project_base} + {n},
                    {system}, {status}, {owner}, ''
                FROM {sql.series(n_projects)}
                WHERE {when}
                """,
            )

    def _manager_expr(self, n: str) -> str:
        pm = self.user_ids["pm"]
        return f"(CASE WHEN {n} < {SHOWCASE} THEN {pm} ELSE {pm} + {n} % {self.shape.managers} END)"

    def phases(self, n_projects: int) -> None:
        sql = self.sql
        n = "s.i"
        hr = sql.h(60, n)
        none = f"({n} = 5 OR ({n} >= {SHOWCASE} AND {hr} < 70))"
        now = sql.timestamp(self.now)
        manager = self._manager_expr(n)
        # The go-live milestone of two projects in three, on a day spread over ten months
        # from 200 days ago (a go-live in three is an ordinary milestone): enough on one user
        # group within 30 days to collide, and some not; past ones due for a benefits review,
        # near ones due their integrations.
        go_live_day = sql.date_plus(self.day(-200), f"{sql.h(61, n)} % 300")
        plan = [
            ("Discovery", "phase", -120, -60, "1 = 1", None, "1 = 0"),
            ("Build and pilot", "phase", -59, 30, "1 = 1", None, "1 = 0"),
            ("Go-live", "milestone", 30, 30, f"{hr} % 3 <> 0", go_live_day, f"{hr} % 9 >= 3"),
            ("Roll-out", "phase", 31, 150, f"{hr} % 2 = 0", None, "1 = 0"),
        ]
        for position, (name, kind, start, end, when, on, go_live) in enumerate(plan):
            start_day = on or sql.date(self.day(start))
            end_day = on or sql.date(self.day(end))
            self.execute(
                "roadmap phases",
                f"""
                INSERT INTO projects_roadmapphase (created_at, updated_at, updated_by_id,
                    version, project_id, name, kind, start_date, end_date, go_live, position)
                SELECT {now}, {now}, {manager}, 1, {self.project_base} + {n}, {_quote(name)},
                    {_quote(kind)}, {start_day}, {end_day}, {sql.boolean(go_live)}, {position}
                FROM {sql.series(n_projects)}
                WHERE NOT {none} AND {when}
                """,
            )

    def check_ins(self, n_projects: int) -> None:
        sql = self.sql
        n = "s.i"
        e = self.project_expressions(n)
        normal = e["normal"]
        hc = sql.h(70, n)
        fresh = [2, 6, 11, 17, 24]
        old = [45, 60, 90, 200]
        pick = f"{sql.h(71, n)}"
        # Days ago of the newest check-in; NULL: none at all.
        newest = (
            f"(CASE WHEN {n} = 8 THEN 90 WHEN {n} = 9 THEN NULL WHEN NOT {normal} THEN 3 "
            f"WHEN {e['status']} = 'proposed' OR {hc} < 80 THEN NULL "
            f"WHEN {hc} < 180 THEN {sql.pick(f'{pick} % {len(old)}', [str(d) for d in old])} "
            f"ELSE {sql.pick(f'{pick} % {len(fresh)}', [str(d) for d in fresh])} END)"
        )
        # The dates a check-in `days` ago (plus `extra` older) can have, as a CASE on it.
        days = sorted(set(fresh + old + [3, 90]))

        def on(extra: int) -> str:
            whens = " ".join(f"WHEN {d} THEN {sql.date(self.day(-d - extra))}" for d in days)
            return f"(CASE q.days {whens} END)"

        health = sql.pick(f"{sql.h(72, n)} % 3", ["'on_track'", "'at_risk'", "'off_track'"])
        now = sql.timestamp(self.now)
        for extra, when in [(0, "1 = 1"), (28, "q.more % 2 = 0"), (56, "q.more % 5 = 0")]:
            self.execute(
                "check-ins",
                f"""
                INSERT INTO projects_projectcheckin
                    (project_id, checked_in_on, health, summary, author_id, created_at, version)
                SELECT q.project_id, {on(extra)}, q.health,
                    'Progress reviewed with the sponsor.', q.author, {now}, 1
                FROM (SELECT {self.project_base} + {n} AS project_id, {newest} AS days,
                             {health} AS health, {self._manager_expr(n)} AS author,
                             {sql.h(73, n)} AS more
                      FROM {sql.series(n_projects)}) AS q
                WHERE q.days IS NOT NULL AND {when}
                """,
            )

    def features(self) -> None:
        shape, sql = self.shape, self.sql
        per = shape.features_per_project
        total = shape.projects * per
        if total <= 0:
            return
        feature_base = _next_id(Feature) + 1
        f = "s.i"
        n = f"({f} / {per})"
        j = f"({f} % {per})"
        e = self.project_expressions(n)
        now = sql.timestamp(self.now)
        hfs = sql.h(80, f)
        status = (
            f"(CASE WHEN {n} = 12 AND {j} = 0 THEN 'dropped' "
            f"WHEN {n} >= {SHOWCASE} AND {hfs} < 40 THEN 'dropped' "
            f"WHEN {hfs} % 4 = 0 THEN 'proposed' WHEN {hfs} % 4 = 1 THEN 'planned' "
            f"WHEN {hfs} % 4 = 2 THEN 'in_progress' ELSE 'done' END)"
        )
        title = (
            f"{sql.pick_text(f'{n} * 3 + {j} * 7', FEATURE_THEMES)} || ' (' || "
            f"{sql.text(f'{j} + 1')} || ')'"
        )
        self.execute(
            "features",
            f"""
            INSERT INTO projects_feature (id, created_at, updated_at, updated_by_id, version,
                project_id, title, description, priority, status, position)
            SELECT {feature_base} + {f}, {now}, {now}, {self._manager_expr(n)}, 1,
                {self.project_base} + {n}, {title}, '', 1 + {sql.h(81, f)} % 4, {status}, {j}
            FROM {sql.series(total)}
            """,
        )
        good0, broken0 = self.crm_base, self.crm_base + self.good
        good1 = self.crm_base + (1 % self.good)
        hf = sql.h(82, f)
        off_scope = f"({self.crm_base} + ({sql.h(12, n, None)} + {self.good // 2}) % {self.good})"
        first = (
            f"(CASE "
            f"WHEN {n} = 0 THEN (CASE WHEN {j} % 2 = 1 THEN {good0} END) "
            f"WHEN {n} = 1 THEN {broken0} "
            f"WHEN {n} = 10 AND {j} = 0 THEN {good1} "
            f"WHEN {n} = 11 AND {j} = 0 THEN NULL "
            f"WHEN {n} = 11 AND {j} = 1 THEN {broken0} "
            f"WHEN {n} = 12 AND {j} = 0 THEN NULL "
            f"WHEN {n} < {SHOWCASE} THEN {good0} "
            f"WHEN {hf} < 40 THEN NULL "
            f"WHEN {hf} < 60 THEN {off_scope} "
            f"ELSE {e['primary']} END)"
        )
        # A second link to the project's second strategy, for some features of traced
        # projects whose first link is the project's own.
        second = (
            f"(CASE WHEN {n} >= {SHOWCASE} AND {e['traced']} AND {e['link2']} IS NOT NULL "
            f"AND {hf} >= 60 AND {sql.h(83, f)} < 150 THEN {e['second_good']} END)"
        )
        rationale = sql.pick_text(sql.h(84, f), RATIONALES)
        for target in (first, second):
            self.execute(
                "feature links",
                f"""
                INSERT INTO projects_featurelink
                    (rationale, weight, created_at, feature_id, crm_strategy_id)
                SELECT q.rationale, NULL, {now}, q.feature_id, q.crm
                FROM (SELECT {feature_base} + {f} AS feature_id, {target} AS crm,
                             {rationale} AS rationale
                      FROM {sql.series(total)}) AS q
                WHERE q.crm IS NOT NULL
                """,
            )

    def reset_sequences(self) -> None:
        models = _with_explicit_ids()
        statements = connection.ops.sequence_reset_sql(no_style(), models)
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


def generate_portfolio(shape: Shape) -> Generated:
    """Write one synthetic portfolio of this shape into the current database, in one
    transaction. The caller decides whether the database may already hold one."""
    return _Generator(shape).run()


def has_portfolio() -> bool:
    """Whether the current database holds any project."""
    return CRMProject.objects.exists()


__all__ = [
    "GENERATED_EMAIL_DOMAIN",
    "SHOWCASE",
    "Generated",
    "Shape",
    "clear_portfolio",
    "generate_portfolio",
    "has_portfolio",
    "portfolio_hash",
]
