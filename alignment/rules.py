"""The rule catalogue: one registry, each rule a set-based query.

A rule is a function from a `RuleContext` (today, the threshold) to a queryset of the
subjects it flags; `@rule(...)` registers it with its metadata. The engine (`alignment.engine`)
turns each queryset into a fixed handful of SQL statements (resolve, reopen, refresh, insert),
so a scan costs the same number of queries whatever the portfolio size. Never loop over rows
here; use `Exists` / `~Exists` (NOT EXISTS anti-joins) and subqueries, never NOT IN.

Traceable, anchored and off scope come from `projects.trace`; a rule never restates them.
The readiness checklist (`alignment.readiness`) is these same functions evaluated for one
project, so a rule reads a project's status through `rule_project_status`: readiness asks what
holds once the project is approved.

Adding a rule = one decorated function below + its test in tests/alignment/test_rules.py.

Subject labels (what a flag shows, and what the demo data's EXPECTED_FLAGS spell):
goal / business strategy / CRM strategy / project / feature: its title (a feature's flag also
carries its project, `Flag.project`, for context); manager: the user's full name, else the
username; department: the name.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
    Window,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import (
    Abs,
    Cast,
    Coalesce,
    Concat,
    Lead,
    Left,
    NullIf,
    Trim,
    TruncDate,
)

from core.slots import InIds
from goals.models import BusinessGoal, GoalStatus
from projects.models import (
    APPROVABLE_PROJECT_STATUSES,
    COMMITTED_PROJECT_STATUSES,
    LIVE_PROJECT_STATUSES,
    CRMProject,
    Department,
    Feature,
    FeatureStatus,
    IntegrationStatus,
    MetricReading,
    ProjectCheckIn,
    ProjectLink,
    ProjectStatus,
    ProjectSystem,
    RoadmapPhase,
    SuccessMetric,
    UserGroup,
)
from projects.trace import (
    anchored_crm_strategy_exists,
    feature_off_scope_exists,
    feature_traceable_exists,
    project_linked_exists,
    project_traceable_exists,
)
from strategies.models import BusinessStrategy, CRMStrategy, CRMStrategyServes, StrategyStatus

from .models import Severity, SubjectType

LABEL_MAX = 255


def group_slot(subject_type: str) -> str:
    """The slot of a re-check's groups of one subject type (CRM strategies, managers, …)."""
    return f"groups:{subject_type}"


@dataclass(frozen=True)
class SubjectKind:
    """How to read a subject type: its model, a readable label, the project it belongs to, and
    the field a project-scoped scan (re-check, chunk) filters on (None: portfolio-wide)."""

    model: Any
    label: Callable[[], Combinable]
    project: Callable[[], Combinable] | None = None
    project_field: str | None = None


def _user_label() -> Combinable:
    full = Trim(Concat(F("first_name"), Value(" "), F("last_name"), output_field=CharField()))
    return Coalesce(NullIf(full, Value("")), F("username"), output_field=CharField())


SUBJECTS: dict[str, SubjectKind] = {
    SubjectType.GOAL: SubjectKind(BusinessGoal, lambda: F("title")),
    SubjectType.BUSINESS_STRATEGY: SubjectKind(BusinessStrategy, lambda: F("title")),
    SubjectType.CRM_STRATEGY: SubjectKind(CRMStrategy, lambda: F("title")),
    SubjectType.PROJECT: SubjectKind(
        CRMProject, lambda: F("title"), project=lambda: F("pk"), project_field="pk"
    ),
    SubjectType.FEATURE: SubjectKind(
        Feature, lambda: F("title"), project=lambda: F("project_id"), project_field="project_id"
    ),
    SubjectType.MANAGER: SubjectKind(get_user_model(), _user_label),
    SubjectType.DEPARTMENT: SubjectKind(Department, lambda: F("name")),
    SubjectType.USER_GROUP: SubjectKind(UserGroup, lambda: F("name")),
}


def subject_label_expression(subject_type: str) -> Combinable:
    """The SQL expression for a subject's readable label, cut to the flag column's length."""
    return Left(SUBJECTS[subject_type].label(), LABEL_MAX)


@dataclass(frozen=True)
class RuleContext:
    """What a rule may depend on besides the data: today's date and its threshold setting.
    `approving`: readiness evaluates the rules as if this project (when proposed or on hold)
    were approved; scans leave it None."""

    today: datetime.date
    threshold: int | None
    approving: int | None = None
    # The rule's second number, where it has one (portfolio.change_collision: the window's days).
    window: int | None = None
    # A re-check: a rule over groups of projects looks only at the groups the scan binds to
    # the group slots (`slots.group_slot`), per subject type, when its statement runs.
    only: bool = False


Findings = QuerySet[Any] | dict[str, QuerySet[Any]]


@dataclass(frozen=True)
class Rule:
    """One rule of the catalogue with its defaults; the admin overrides them in RuleSetting."""

    code: str
    subject_type: str  # a SubjectType value, or "portfolio" for a rule over several groups
    title: str
    default_severity: str
    advice: str  # what the owner should do; becomes the flag's message
    why: str  # why it matters (README, dashboard help)
    evaluate: Callable[[RuleContext], Findings] = field(repr=False)
    threshold_default: int | None = None
    threshold_label: str | None = None
    window_default: int | None = None
    window_label: str | None = None
    subject_types: tuple[str, ...] = ()
    check: str = ""  # the readiness checklist's wording: what holds when the rule does not
    blocks_approval: bool = False  # the default of the rule setting
    # About groups of projects (a manager's, a department's, a CRM strategy's): a re-check of
    # some projects evaluates it for their groups. Other portfolio-wide rules (about goals and
    # strategies) cannot change with a project; an edit to those queues a full scan.
    groups_projects: bool = False

    def message(self, threshold: int | None, window: int | None = None) -> str:
        return self.advice.format(n=threshold, w=window)

    def check_text(self, threshold: int | None, window: int | None = None) -> str:
        return (self.check or self.title).format(n=threshold, w=window)

    @property
    def project_scoped(self) -> bool:
        """About projects or their features: part of a project's readiness checklist, and
        re-checked per project after an edit."""
        return all(SUBJECTS[kind].project_field for kind in self.subject_types)

    def findings(self, ctx: RuleContext) -> dict[str, QuerySet[Any]]:
        """The rule's subjects per subject type (most rules have exactly one)."""
        result = self.evaluate(ctx)
        if isinstance(result, dict):
            return result
        return {self.subject_type: result}


RULES: dict[str, Rule] = {}


def rule(
    *,
    code: str,
    subject_type: str,
    title: str,
    severity: str,
    advice: str,
    why: str,
    threshold: int | None = None,
    threshold_label: str | None = None,
    window: int | None = None,
    window_label: str | None = None,
    subject_types: tuple[str, ...] = (),
    check: str = "",
    blocks_approval: bool = False,
    groups_projects: bool = False,
) -> Callable[[Callable[[RuleContext], Findings]], Callable[[RuleContext], Findings]]:
    """Register the decorated query function as a rule."""

    def register(fn: Callable[[RuleContext], Findings]) -> Callable[[RuleContext], Findings]:
        if code in RULES:
            raise ValueError(f"Rule {code} is registered twice.")
        RULES[code] = Rule(
            code=code,
            subject_type=subject_type,
            title=title,
            default_severity=severity,
            advice=advice,
            why=why,
            evaluate=fn,
            threshold_default=threshold,
            threshold_label=threshold_label,
            window_default=window,
            window_label=window_label,
            subject_types=subject_types or (subject_type,),
            check=check,
            blocks_approval=blocks_approval,
            groups_projects=groups_projects,
        )
        return fn

    return register


def rule_for(code: str) -> Rule:
    """The registered rule with this code (KeyError if there is none)."""
    return RULES[code]


def rule_project_status(ctx: RuleContext, path: str = "") -> Any:
    """A project's status as the rules read it: as stored, except that the project readiness
    is evaluated for (`ctx.approving`), when proposed or on hold, counts as approved. `path`
    leads to the project (e.g. "project__")."""
    stored = F(f"{path}status")
    if ctx.approving is None:
        return stored
    return Case(
        When(
            Q(**{f"{path}pk": ctx.approving, f"{path}status__in": APPROVABLE_PROJECT_STATUSES}),
            then=Value(ProjectStatus.APPROVED.value),
        ),
        default=stored,
        output_field=CharField(),
    )


def _projects(ctx: RuleContext, statuses: list[ProjectStatus]) -> QuerySet[CRMProject]:
    return CRMProject.objects.alias(rule_status=rule_project_status(ctx)).filter(
        rule_status__in=statuses
    )


def _live_projects(ctx: RuleContext) -> QuerySet[CRMProject]:
    return _projects(ctx, LIVE_PROJECT_STATUSES)


def _live_features(ctx: RuleContext) -> QuerySet[Feature]:
    return (
        Feature.objects.alias(rule_status=rule_project_status(ctx, "project__"))
        .filter(rule_status__in=LIVE_PROJECT_STATUSES)
        .exclude(status=FeatureStatus.DROPPED)
    )


# --- Traceability -------------------------------------------------------------------------


@rule(
    code="project.untraced",
    subject_type=SubjectType.PROJECT,
    title="Project serves no CRM strategy",
    severity=Severity.CRITICAL,
    advice=(
        "Link this project to the CRM strategy it serves, with a short rationale — "
        "or stop it if none applies."
    ),
    why="Nobody can say why the project is strategically relevant.",
    check="The project is linked to a CRM strategy",
)
def project_untraced(ctx: RuleContext) -> QuerySet[CRMProject]:
    return _live_projects(ctx).filter(~project_linked_exists())


@rule(
    code="project.broken_chain",
    subject_type=SubjectType.PROJECT,
    title="Project's links reach no active goal",
    severity=Severity.CRITICAL,
    advice=(
        "Every CRM strategy this project serves is draft or retired, or leads only to draft or "
        "retired business strategies or goals. Link it to an active CRM strategy, or ask the "
        "executive to reactivate the chain."
    ),
    why="A project serving a retired strategy or goal spends money on yesterday's plan.",
    check="If linked, a link reaches an active goal",
)
def project_broken_chain(ctx: RuleContext) -> QuerySet[CRMProject]:
    return _live_projects(ctx).filter(project_linked_exists(), ~project_traceable_exists())


@rule(
    code="feature.untraced",
    subject_type=SubjectType.FEATURE,
    title="Feature traces to no active goal",
    severity=Severity.WARNING,
    advice=(
        "Link this feature to an active CRM strategy it serves, with a rationale — "
        "or drop it as a requirement nobody can justify."
    ),
    why="Features nobody can justify are how CRM projects drift into tool-building.",
    check="Every feature traces to an active goal",
)
def feature_untraced(ctx: RuleContext) -> QuerySet[Feature]:
    return _live_features(ctx).filter(~feature_traceable_exists())


@rule(
    code="feature.off_scope",
    subject_type=SubjectType.FEATURE,
    title="Feature serves a CRM strategy its project does not",
    severity=Severity.WARNING,
    advice=(
        "This feature serves a CRM strategy its project is not linked to. Link the project to "
        "that strategy too, or relink the feature to one of the project's strategies."
    ),
    why="Scope creep: the project does work outside the strategies it was approved for.",
    check="Every feature serves only CRM strategies the project serves",
)
def feature_off_scope(ctx: RuleContext) -> QuerySet[Feature]:
    return _live_features(ctx).filter(feature_off_scope_exists())


@rule(
    code="crm_strategy.unanchored",
    subject_type=SubjectType.CRM_STRATEGY,
    title="CRM strategy serves no active business strategy",
    severity=Severity.CRITICAL,
    advice=(
        "Say which active business strategy this CRM strategy serves, or retire it: "
        "without one it is a tool, not a strategy."
    ),
    why="A CRM strategy that serves no business strategy is a tool, not a strategy.",
)
def crm_strategy_unanchored(ctx: RuleContext) -> QuerySet[CRMStrategy]:
    return CRMStrategy.objects.filter(status=StrategyStatus.ACTIVE).filter(
        ~anchored_crm_strategy_exists()
    )


@rule(
    code="business_strategy.unserved",
    subject_type=SubjectType.BUSINESS_STRATEGY,
    title="Business strategy has no CRM strategy or active project executing it",
    severity=Severity.WARNING,
    advice=(
        "No active CRM strategy with an active project serves this business strategy. "
        "Define or activate a CRM strategy for it and start a project — or retire it."
    ),
    why="A strategy nobody executes is a wish; the goal above it is at risk.",
)
def business_strategy_unserved(ctx: RuleContext) -> QuerySet[BusinessStrategy]:
    executed = CRMStrategyServes.objects.filter(
        business_strategy=OuterRef("pk"),
        crm_strategy__status=StrategyStatus.ACTIVE,
        crm_strategy__project_links__project__status=ProjectStatus.ACTIVE,
    )
    return BusinessStrategy.objects.filter(status=StrategyStatus.ACTIVE).filter(~Exists(executed))


@rule(
    code="goal.no_strategy",
    subject_type=SubjectType.GOAL,
    title="Goal has no active business strategy",
    severity=Severity.WARNING,
    advice="Add an active business strategy that says how this goal will be reached.",
    why="A goal without a strategy cannot be traced to any work.",
)
def goal_no_strategy(ctx: RuleContext) -> QuerySet[BusinessGoal]:
    active_strategy = BusinessStrategy.objects.filter(
        goal=OuterRef("pk"), status=StrategyStatus.ACTIVE
    )
    return BusinessGoal.objects.filter(status=GoalStatus.ACTIVE).filter(~Exists(active_strategy))


# --- Project health -----------------------------------------------------------------------


@rule(
    code="project.no_sponsor",
    subject_type=SubjectType.PROJECT,
    title="Project has no executive sponsor",
    severity=Severity.CRITICAL,
    advice="Name an executive sponsor who will drive the change this project needs.",
    why="Without a sponsor nobody drives the culture change a CRM programme needs.",
    check="An executive sponsor is named",
    blocks_approval=True,
)
def project_no_sponsor(ctx: RuleContext) -> QuerySet[CRMProject]:
    return _live_projects(ctx).filter(sponsor__isnull=True)


@rule(
    code="project.no_success_metrics",
    subject_type=SubjectType.PROJECT,
    title="Approved project without success metrics",
    severity=Severity.WARNING,
    advice="Add at least one success metric with a baseline and a target before more is spent.",
    why="Without a baseline and a target nobody can tell whether the project worked.",
    check="A success metric has a baseline and a target",
    blocks_approval=True,
)
def project_no_success_metrics(ctx: RuleContext) -> QuerySet[CRMProject]:
    measured = SuccessMetric.objects.filter(
        project=OuterRef("pk"), baseline__isnull=False, target__isnull=False
    )
    return _projects(ctx, COMMITTED_PROJECT_STATUSES).filter(~Exists(measured))


@rule(
    code="project.no_roadmap",
    subject_type=SubjectType.PROJECT,
    title="Approved project without a roadmap",
    severity=Severity.WARNING,
    advice="Add the roadmap: at least one phase or milestone.",
    why="No CRM roadmap is one of the recurring causes of failed CRM programmes.",
    check="The roadmap has a phase or milestone",
    blocks_approval=True,
)
def project_no_roadmap(ctx: RuleContext) -> QuerySet[CRMProject]:
    phases = RoadmapPhase.objects.filter(project=OuterRef("pk"))
    return _projects(ctx, COMMITTED_PROJECT_STATUSES).filter(~Exists(phases))


@rule(
    code="project.it_only",
    subject_type=SubjectType.PROJECT,
    title="IT owns the project with no business owner",
    severity=Severity.WARNING,
    advice="Name a business owner: IT alone cannot own what is a business project.",
    why="IT alone owning a CRM project is a recurring cause of failure.",
    check="If owned by IT, a business owner is named",
)
def project_it_only(ctx: RuleContext) -> QuerySet[CRMProject]:
    return _live_projects(ctx).filter(department__is_it=True, business_owner__isnull=True)


@rule(
    code="project.technology_only",
    subject_type=SubjectType.PROJECT,
    title="All budget goes to technology",
    severity=Severity.WARNING,
    advice=(
        "Budget the people, process, training and incentives needed to use the technology; "
        "all of this project's money goes to technology."
    ),
    why="Technology nobody is trained or rewarded to use is money wasted.",
    check="Not all the money goes to technology",
)
def project_technology_only(ctx: RuleContext) -> QuerySet[CRMProject]:
    # Budgets are non-negative (a check constraint), so "all zero" is each one being zero.
    # A project with no budget at all spends nothing on technology alone: not flagged (nor
    # is it in the readiness checklist, which is this rule).
    return _live_projects(ctx).filter(
        budget_technology__gt=0,
        budget_people=0,
        budget_process=0,
        budget_training=0,
        budget_incentives=0,
    )


@rule(
    code="project.stalled",
    subject_type=SubjectType.PROJECT,
    title="Active project with no recent check-in",
    severity=Severity.WARNING,
    advice="No check-in for more than {n} days: record a check-in on progress and health.",
    why="A project nobody reports on is out of sight of its sponsor.",
    threshold=30,
    threshold_label="days without a check-in",
    check="If active, checked in within the last {n} days",
)
def project_stalled(ctx: RuleContext) -> QuerySet[CRMProject]:
    days = ctx.threshold if ctx.threshold is not None else 30
    newest = ProjectCheckIn.objects.filter(project=OuterRef("pk")).order_by("-checked_in_on")
    # Exactly N days ago is not stalled yet: stalled means strictly before today - N.
    cutoff = ctx.today - datetime.timedelta(days=days)
    return (
        _projects(ctx, [ProjectStatus.ACTIVE])
        .alias(
            last_activity=Coalesce(
                Subquery(newest.values("checked_in_on")[:1]),
                F("start_date"),
                TruncDate("created_at"),
            )
        )
        .filter(last_activity__lt=cutoff)
    )


# --- Integration and benefits (dated from the first go-live) -----------------------------

# A flag's message is the rule's advice; a rule may instead alias this name on its queryset to
# an expression giving each subject's own message (e.g. naming the systems it is about).
MESSAGE_ALIAS = "flag_message"


class _JoinedNames(Aggregate):
    """The names joined with ", ": in name order on PostgreSQL; SQLite's GROUP_CONCAT takes
    no order (before 3.44), so there the order is the rows'."""

    function = "STRING_AGG"
    template = "%(function)s(%(expressions)s, ', ' ORDER BY %(expressions)s)"
    output_field = CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            function="GROUP_CONCAT",
            template="%(function)s(%(expressions)s, ', ')",
            **extra,
        )


def first_go_live(path: str = "") -> Subquery:
    """A project's first go-live: the earliest start date of its go-live milestones (None
    without a dated one). `path` leads from the outer row to the project's id."""
    go_lives = RoadmapPhase.objects.filter(
        project=OuterRef(f"{path}pk"), go_live=True, start_date__isnull=False
    ).order_by("start_date")
    return Subquery(go_lives.values("start_date")[:1])


def unplanned_integrations() -> Q:
    """An integration nobody has started, or nobody owns."""
    return Q(status=IntegrationStatus.NOT_STARTED) | Q(owner__isnull=True)


@rule(
    code="project.integration_unplanned",
    subject_type=SubjectType.PROJECT,
    title="Integration not planned near go-live",
    severity=Severity.WARNING,
    advice=(
        "Go-live is {n} days away or less (or past), and an integration with another system is "
        "not started or has no owner. Plan it and name who owns it."
    ),
    why=(
        "Unclear integration with other systems is a recurring cause of failed CRM programmes: "
        "a CRM that cannot reach the ERP, billing or the data warehouse is not used."
    ),
    threshold=60,
    threshold_label="days before the first go-live",
    check="No integration is unstarted or unowned within {n} days of go-live",
)
def project_integration_unplanned(ctx: RuleContext) -> QuerySet[CRMProject]:
    # An approved or active project whose first go-live (the earliest dated go-live milestone)
    # is at most N days ahead — or already past: an integration still unplanned then is worse —
    # and which lists a system whose integration is not started or has no owner.
    days = ctx.threshold if ctx.threshold is not None else 60
    horizon = ctx.today + datetime.timedelta(days=days)
    unplanned = ProjectSystem.objects.filter(unplanned_integrations(), project=OuterRef("pk"))
    names = (
        ProjectSystem.objects.filter(unplanned_integrations(), project=OuterRef("pk"))
        .order_by()
        .values("project")
        .annotate(names=_JoinedNames("system__name"))
        .values("names")
    )
    advice = RULES["project.integration_unplanned"].message(days)
    return (
        _projects(ctx, COMMITTED_PROJECT_STATUSES)
        .alias(go_live_on=first_go_live())
        .filter(go_live_on__lte=horizon)
        .filter(Exists(unplanned))
        .alias(
            **{
                MESSAGE_ALIAS: Concat(
                    Value(f"{advice} Systems: "),
                    Subquery(names),
                    Value("."),
                    output_field=CharField(),
                )
            }
        )
    )


# Projects whose benefits are due for review: past go-live or done (not proposed, not cancelled).
BENEFITS_STATUSES = [
    ProjectStatus.APPROVED,
    ProjectStatus.ACTIVE,
    ProjectStatus.ON_HOLD,
    ProjectStatus.DONE,
]


def benefits_since() -> Combinable:
    """When a project's benefits became measurable: its first go-live, else — for a done
    project — its end date (the day it finished). None otherwise: not reviewable yet."""
    return Coalesce(
        first_go_live(),
        Case(When(status=ProjectStatus.DONE, then=F("end_date"))),
    )


@rule(
    code="project.benefits_unreviewed",
    subject_type=SubjectType.PROJECT,
    title="Benefits never measured after go-live",
    severity=Severity.WARNING,
    advice=(
        "Live or done for more than {n} days and no success metric has a reading since: "
        "measure the metrics again and record the readings."
    ),
    why="Success never measured after go-live is a recurring cause of failed CRM programmes.",
    threshold=90,
    threshold_label=(
        "days after the first go-live (a done project without one: after its end date)"
    ),
    check="Success metrics are read within {n} days of go-live",
)
def project_benefits_unreviewed(ctx: RuleContext) -> QuerySet[CRMProject]:
    # "Since": the first go-live (the earliest dated go-live milestone); a done project without
    # one counts from its end date, the day it finished. A project with neither is not flagged
    # (nothing says when it went live). More than N days: since < today - N. A reading counts
    # when dated after that day.
    days = ctx.threshold if ctx.threshold is not None else 90
    cutoff = ctx.today - datetime.timedelta(days=days)
    read_since = MetricReading.objects.filter(
        metric__project=OuterRef("pk"), recorded_on__gt=OuterRef("review_since")
    )
    return (
        _projects(ctx, BENEFITS_STATUSES)
        .alias(review_since=benefits_since())
        .filter(review_since__lt=cutoff)
        .filter(~Exists(read_since))
    )


def _over_limit(groups: QuerySet[Any], group_field: str, limit: int) -> QuerySet[Any]:
    """The ids in `group_field` of the groups with more than `limit` rows: one GROUP BY …
    HAVING over the active projects, not a count per group."""
    return (
        groups.order_by()
        .values(group_field)
        .annotate(n=Count("pk"))
        .filter(n__gt=limit)
        .values(group_field)
    )


@rule(
    code="portfolio.overloaded",
    subject_type="portfolio",
    subject_types=(SubjectType.CRM_STRATEGY, SubjectType.MANAGER, SubjectType.DEPARTMENT),
    title="Too many active projects at once",
    severity=Severity.WARNING,
    advice=(
        "More than {n} projects are active at once here. Put some on hold or stagger them, "
        "and coordinate them across the enterprise."
    ),
    why="Many CRM projects at once stretch people and money with no coordination.",
    threshold=5,
    threshold_label="active projects at most",
    groups_projects=True,
)
def portfolio_overloaded(ctx: RuleContext) -> dict[str, QuerySet[Any]]:
    limit = ctx.threshold if ctx.threshold is not None else 5
    active = CRMProject.objects.filter(status=ProjectStatus.ACTIVE)
    links = ProjectLink.objects.filter(project__status=ProjectStatus.ACTIVE)
    if ctx.only:  # a re-check: just the groups it binds
        links = links.filter(InIds("crm_strategy", group_slot(SubjectType.CRM_STRATEGY)))
        by_manager = active.filter(InIds("manager", group_slot(SubjectType.MANAGER)))
        by_department = active.filter(InIds("department", group_slot(SubjectType.DEPARTMENT)))
    else:
        by_manager = by_department = active
    return {
        SubjectType.CRM_STRATEGY: CRMStrategy.objects.filter(
            pk__in=_over_limit(links, "crm_strategy", limit)
        ),
        SubjectType.MANAGER: get_user_model().objects.filter(
            pk__in=_over_limit(by_manager, "manager", limit)
        ),
        SubjectType.DEPARTMENT: Department.objects.filter(
            pk__in=_over_limit(by_department, "department", limit)
        ),
    }


class _DayNumber(Func):
    """A date as a whole number of days (since 1970-01-01): day arithmetic and comparisons in
    plain integers, the same on PostgreSQL (date minus date is an integer there) and SQLite."""

    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "CAST(julianday(%(expressions)s) - 2440587.5 AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "(%(expressions)s - DATE '1970-01-01')"
        return self.as_sql(compiler, connection, template=template, **extra)


class _Joined(Aggregate):
    """The texts of a group joined by ", " in date order (PostgreSQL's STRING_AGG; SQLite's
    GROUP_CONCAT, which joins in the order it reads the rows: by date, from the subquery's
    index on the phases' project, in practice)."""

    output_field = TextField()

    def __init__(self, text: Any, order: Any, **extra: Any) -> None:
        super().__init__(text, order, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        text = self.get_source_expressions()[0]
        sql, params = compiler.compile(text)
        return f"GROUP_CONCAT({sql}, ', ')", params

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        text, order = self.get_source_expressions()[:2]
        sql, params = compiler.compile(text)
        order_sql, order_params = compiler.compile(order)
        return f"STRING_AGG({sql}, ', ' ORDER BY {order_sql})", (*params, *order_params)


def _go_lives(ctx: RuleContext) -> QuerySet[Any]:
    """Go-live milestones of live projects, one row per (go-live, user group its project
    affects): `group`, `day` (_DayNumber of the date; a milestone's date is its start)."""
    return (
        RoadmapPhase.objects.alias(rule_status=rule_project_status(ctx, "project__"))
        .filter(
            rule_status__in=LIVE_PROJECT_STATUSES,
            go_live=True,
            start_date__isnull=False,
            project__user_group_links__isnull=False,
        )
        .annotate(group=F("project__user_group_links__user_group"), day=_DayNumber("start_date"))
    )


@rule(
    code="portfolio.change_collision",
    subject_type=SubjectType.USER_GROUP,
    title="Too many go-lives hit one user group at once",
    severity=Severity.WARNING,
    advice=(
        "More than {n} go-lives hit this user group within {w} days. Stagger them, or plan "
        "the change with the group's managers so the people can absorb it."
    ),
    why="Too many projects hitting the same people at once is how changes fail to land.",
    threshold=2,
    threshold_label="go-lives at most",
    window=30,
    window_label="days the go-lives are counted in",
    groups_projects=True,
)
def portfolio_change_collision(ctx: RuleContext) -> QuerySet[UserGroup]:
    """A group collides when, ordered by date, some go-live is followed within `window` days
    (inclusive) by `limit` more: the go-live `limit` rows further on in the group (a LEAD
    window over each group's go-lives) is at most `window` days later. The message names the
    first such stretch: its go-lives, their projects and dates."""
    limit = ctx.threshold if ctx.threshold is not None else 2
    days = ctx.window if ctx.window is not None else 30
    go_lives = _go_lives(ctx)
    if ctx.only:  # a re-check: just the groups it binds
        go_lives = go_lives.filter(InIds("group", group_slot(SubjectType.USER_GROUP)))
    starts = go_lives.annotate(
        ahead=Window(
            Lead(_DayNumber("start_date"), offset=limit) if limit else _DayNumber("start_date"),
            partition_by=[F("group")],
            order_by=[F("start_date").asc(), F("pk").asc()],
        )
    ).filter(ahead__lte=F("day") + days)
    first_start = starts.filter(group=OuterRef("pk")).order_by("day", "pk").values("day")[:1]
    stretch = (
        _go_lives(ctx)
        # Within [first day, first day + days]: 0 <= d <= days, for d the distance from the
        # first day, written |2d - days| <= days so that the first day (a subquery) is named
        # once and the database works it out once per group, not once per bound (BETWEEN
        # names it twice).
        .alias(
            off_centre=Abs(
                ExpressionWrapper(
                    (F("day") - OuterRef("first_day")) * 2 - days, output_field=IntegerField()
                )
            )
        )
        .filter(group=OuterRef("pk"), off_centre__lte=days)
        .order_by()
        .values("group")
        .annotate(
            text=_Joined(
                Concat(
                    F("project__title"),
                    Value(" on "),
                    Cast("start_date", CharField()),
                    output_field=TextField(),
                ),
                F("start_date"),
            )
        )
        .values("text")
    )
    return (
        UserGroup.objects.filter(pk__in=starts.values("group"))
        .annotate(first_day=Subquery(first_start))
        .annotate(
            **{
                MESSAGE_ALIAS: Concat(
                    Value(f"More than {limit} go-lives hit “"),
                    F("name"),
                    Value(f"” within {days} days: "),
                    Subquery(stretch, output_field=TextField()),
                    Value(
                        ". Stagger them, or plan the change with the group's managers so the "
                        "people can absorb it."
                    ),
                    output_field=TextField(),
                )
            }
        )
    )


__all__ = [
    "MESSAGE_ALIAS",
    "RULES",
    "SUBJECTS",
    "Rule",
    "RuleContext",
    "SubjectKind",
    "rule",
    "rule_for",
    "rule_project_status",
    "subject_label_expression",
]
