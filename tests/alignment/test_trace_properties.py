"""Property-based: on small random portfolios the database definitions of traceable, anchored
and off scope (strategies.trace, projects.trace) agree with a plain Python twin written here,
and a project's readiness checklist agrees with the flags a scan opens for it.

Each example builds its portfolio inside a savepoint that is rolled back, so examples share the
test database without seeing each other's rows."""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alignment import engine
from alignment.models import UNRESOLVED_STATES, Flag
from alignment.readiness import project_readiness
from alignment.services import project_approve
from goals.models import GoalStatus
from projects.models import (
    APPROVABLE_PROJECT_STATUSES,
    CRMProject,
    FeatureLink,
    FeatureStatus,
    ProjectLink,
    ProjectStatus,
)
from projects.selectors import features_with_trace, projects_with_trace
from projects.trace import project_trace
from strategies.models import CRMStrategyServes, StrategyStatus
from strategies.selectors import crm_strategies_with_trace
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    DepartmentFactory,
    FeatureFactory,
    GoalFactory,
    ProjectCheckInFactory,
    ProjectFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
    UserFactory,
    rule_settings,
)

pytestmark = pytest.mark.django_db

ACTIVE = "active"
PROJECT_SCOPED_CODES = [
    "project.untraced",
    "project.broken_chain",
    "feature.untraced",
    "feature.off_scope",
    "project.no_sponsor",
    "project.no_success_metrics",
    "project.no_roadmap",
    "project.it_only",
    "project.technology_only",
    "project.stalled",
]


# --- The portfolio, as plain data -------------------------------------------------------------


@dataclass
class FeatureSpec:
    status: str
    links: frozenset[int]  # CRM strategy indexes


@dataclass
class ProjectSpec:
    status: str
    links: frozenset[int]
    features: list[FeatureSpec]
    sponsor: bool
    metric: str  # "none", "no target", "measured"
    phase: bool
    budget: tuple[int, int]  # technology, people
    it_department: bool
    business_owner: bool
    check_in_days_ago: int | None
    started_days_ago: int


@dataclass
class Portfolio:
    goals: list[str]
    business: list[tuple[int, str]]  # (goal index, status)
    crm: list[str]
    serves: frozenset[tuple[int, int]]  # (CRM strategy index, business strategy index)
    projects: list[ProjectSpec]
    switched_off: frozenset[str] = field(default_factory=frozenset)


@st.composite
def portfolios(draw):
    goals = draw(st.lists(st.sampled_from(GoalStatus.values), min_size=1, max_size=3))
    business = draw(
        st.lists(
            st.tuples(st.integers(0, len(goals) - 1), st.sampled_from(StrategyStatus.values)),
            max_size=4,
        )
    )
    crm = draw(st.lists(st.sampled_from(StrategyStatus.values), min_size=1, max_size=4))
    crm_index = st.integers(0, len(crm) - 1)
    serves = (
        draw(st.frozensets(st.tuples(crm_index, st.integers(0, len(business) - 1)), max_size=6))
        if business
        else frozenset()
    )
    links = st.frozensets(crm_index, max_size=3)
    features = st.lists(
        st.builds(FeatureSpec, status=st.sampled_from(FeatureStatus.values), links=links),
        max_size=3,
    )
    projects = draw(
        st.lists(
            st.builds(
                ProjectSpec,
                status=st.sampled_from(ProjectStatus.values),
                links=links,
                features=features,
                sponsor=st.booleans(),
                metric=st.sampled_from(["none", "no target", "measured"]),
                phase=st.booleans(),
                budget=st.sampled_from([(0, 0), (1000, 0), (0, 500), (1000, 500)]),
                it_department=st.booleans(),
                business_owner=st.booleans(),
                check_in_days_ago=st.sampled_from([None, 3, 45]),
                started_days_ago=st.sampled_from([0, 100]),
            ),
            min_size=1,
            max_size=3,
        )
    )
    switched_off = draw(st.frozensets(st.sampled_from(PROJECT_SCOPED_CODES), max_size=2))
    return Portfolio(goals, business, crm, serves, projects, switched_off)


# --- The Python twin: the definitions, spelled out as DESIGN.md says them ----------------------


def live_business(p: Portfolio, b: int) -> bool:
    goal, status = p.business[b]
    return status == ACTIVE and p.goals[goal] == ACTIVE


def anchored(p: Portfolio, c: int) -> bool:
    return p.crm[c] == ACTIVE and any(live_business(p, b) for crm, b in p.serves if crm == c)


def traceable(p: Portfolio, links: frozenset[int]) -> bool:
    return any(anchored(p, c) for c in links)


def off_scope(project: ProjectSpec, feature: FeatureSpec) -> bool:
    return bool(feature.links - project.links)


# --- Building it in the database ---------------------------------------------------------------


def build(p: Portfolio):
    today = timezone.localdate()
    owner = UserFactory()
    goals = [GoalFactory(owner=owner, status=status) for status in p.goals]
    business = [
        BusinessStrategyFactory(goal=goals[g], owner=owner, status=status)
        for g, status in p.business
    ]
    crm = [CRMStrategyFactory(owner=owner, status=status, serves=[]) for status in p.crm]
    CRMStrategyServes.objects.bulk_create(
        CRMStrategyServes(crm_strategy=crm[c], business_strategy=business[b]) for c, b in p.serves
    )
    it = DepartmentFactory(name="IT", is_it=True)
    sales = DepartmentFactory(name="Sales")
    projects, features = [], []
    for spec in p.projects:
        project = ProjectFactory(
            status=spec.status,
            manager=owner,
            sponsor=owner if spec.sponsor else None,
            department=it if spec.it_department else sales,
            business_owner=owner if spec.business_owner else None,
            budget_technology=Decimal(spec.budget[0]),
            budget_people=Decimal(spec.budget[1]),
            start_date=today - datetime.timedelta(days=spec.started_days_ago),
        )
        ProjectLink.objects.bulk_create(
            ProjectLink(project=project, crm_strategy=crm[c]) for c in spec.links
        )
        if spec.metric != "none":
            SuccessMetricFactory(
                project=project, target=None if spec.metric == "no target" else Decimal("2")
            )
        if spec.phase:
            RoadmapPhaseFactory(project=project)
        if spec.check_in_days_ago is not None:
            ProjectCheckInFactory(
                project=project,
                checked_in_on=today - datetime.timedelta(days=spec.check_in_days_ago),
            )
        row = []
        for feature_spec in spec.features:
            feature = FeatureFactory(project=project, status=feature_spec.status)
            FeatureLink.objects.bulk_create(
                FeatureLink(feature=feature, crm_strategy=crm[c]) for c in feature_spec.links
            )
            row.append(feature)
        projects.append(project)
        features.append(row)
    rule_settings().filter(code__in=p.switched_off).update(enabled=False)
    return crm, projects, features


# --- The properties ------------------------------------------------------------------------------


def check_definitions(p: Portfolio, crm, projects, features) -> None:
    is_anchored = dict(crm_strategies_with_trace().values_list("pk", "is_anchored"))
    for index, strategy in enumerate(crm):
        assert is_anchored[strategy.pk] == anchored(p, index), f"anchored: CRM strategy {index}"

    by_pk = {row.pk: row for row in projects_with_trace()}
    feature_rows = {row.pk: row for row in features_with_trace()}
    for spec, project, project_features in zip(p.projects, projects, features, strict=True):
        row = by_pk[project.pk]
        assert row.is_linked == bool(spec.links)
        assert row.is_traceable == traceable(p, spec.links), "traceable project"
        chains = project_trace(project)
        assert any(chain["traceable"] for chain in chains) == row.is_traceable
        for chain in chains:
            crm_index = next(i for i, s in enumerate(crm) if s.pk == chain["crm_strategy"]["id"])
            bs = chain["business_strategy"]
            expected = bs is not None and (
                p.crm[crm_index] == ACTIVE
                and bs["status"] == ACTIVE
                and chain["goal"]["status"] == ACTIVE
            )
            assert chain["traceable"] == expected, "traceable chain"
        servings = {c: sum(1 for crm_i, _ in p.serves if crm_i == c) for c in spec.links}
        assert len(chains) == sum(max(1, n) for n in servings.values()), "one row per chain"
        for feature_spec, feature in zip(spec.features, project_features, strict=True):
            feature_row = feature_rows[feature.pk]
            assert feature_row.is_traceable == traceable(p, feature_spec.links), "traceable feat."
            assert feature_row.is_off_scope == off_scope(spec, feature_spec), "off scope"


def scan() -> None:
    """What a full scan does to the flags of projects and features (without the scan record,
    lock, snapshot or portfolio-wide rules, which cost time here and say nothing about a
    project's checklist)."""
    engine.evaluate(engine.Scope(portfolio_rules=False))


def unresolved_rules(project) -> set[str]:
    return set(
        Flag.objects.filter(project=project, state__in=UNRESOLVED_STATES).values_list(
            "rule", flat=True
        )
    )


def assert_checklist_matches_flags(readiness, project) -> None:
    flagged = unresolved_rules(project)
    for item in readiness.items:
        if item.ok is None:
            assert item.code not in flagged, f"{item.code} is switched off yet flagged"
        else:
            assert (item.ok is False) == (item.code in flagged), (
                f"{item.code}: checklist ok={item.ok}, flagged={item.code in flagged}"
            )


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(portfolio=portfolios())
def test_definitions_agree_with_their_python_twin_and_readiness_with_the_flags(
    db, admin_user, portfolio
):
    with transaction.atomic():
        crm, projects, features = build(portfolio)
        check_definitions(portfolio, crm, projects, features)

        scan()
        readiness = {project.pk: project_readiness(project.pk) for project in projects}
        approvable = [p for p in projects if p.status in APPROVABLE_PROJECT_STATUSES]
        for project in projects:
            if project not in approvable:
                # Approved, active, done, cancelled: checked as they stand.
                assert_checklist_matches_flags(readiness[project.pk], project)

        # A proposal is checked as it would stand once approved, and approval is refused
        # exactly when an item that blocks approval is missing.
        for project in approvable:
            with transaction.atomic():
                try:
                    project_approve(project_id=project.pk, actor=admin_user)
                except ValidationError as refused:
                    assert readiness[project.pk].blocking
                    assert refused.message_dict["status"] == [readiness[project.pk].refusal]
                else:
                    assert not readiness[project.pk].blocking
                transaction.set_rollback(True)
        CRMProject.objects.filter(pk__in=[p.pk for p in approvable]).update(
            status=ProjectStatus.APPROVED
        )
        scan()
        for project in projects:
            assert_checklist_matches_flags(readiness[project.pk], project)
        transaction.set_rollback(True)
