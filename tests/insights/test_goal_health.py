"""Goal health (alignment.goal_health): red, amber or green per goal and business strategy
from KPIs, projects' newest check-ins and open critical flags, with reasons; on the API and
the pages, computed for a page at once."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alignment.goal_health import recorded, verdicts_for
from alignment.models import Flag, FlagState
from goals.models import Direction
from projects.models import Health, ProjectStatus
from strategies.models import StrategyStatus
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    GoalFactory,
    KPIFactory,
    ProjectCheckInFactory,
    ProjectFactory,
    ProjectLinkFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["few nodes", "many nodes"])
def _both_reads(request, monkeypatch):
    """Every test twice: with the projects' check-ins and flags read for the asked nodes' own
    projects (a page of a goal or strategy), and in one pass over them all (every goal)."""
    monkeypatch.setattr(
        "alignment.goal_health.FEW_NODES", 1_000 if request.param == "few nodes" else 0
    )


TODAY = datetime.date(2026, 6, 1)


def days(n):
    return TODAY + datetime.timedelta(days=n)


def verdict(goal):
    return verdicts_for("goal", [goal.pk], today=TODAY)[goal.pk]


def goal_with_kpi(**kpi):
    goal = GoalFactory()
    values = {"baseline": Decimal(10), "target": Decimal(20), "current": Decimal(18)}
    KPIFactory(goal=goal, name="Revenue", **(values | kpi))
    return goal


def project_under(goal, *, status=ProjectStatus.ACTIVE, bs_status=StrategyStatus.ACTIVE):
    business = BusinessStrategyFactory(goal=goal, status=bs_status)
    crm = CRMStrategyFactory(serves=[business])
    project = ProjectFactory(status=status)
    ProjectLinkFactory(project=project, crm_strategy=crm)
    return project, business


def critical_flag(project, state=FlagState.OPEN, severity="critical", rule="project.no_sponsor"):
    now = timezone.now()
    return Flag.objects.create(
        rule=rule,
        severity=severity,
        subject_type="project",
        subject_id=project.pk,
        subject_label=project.title,
        project=project,
        message="No sponsor.",
        state=state,
        first_seen=now,
        last_seen=now,
    )


# --- KPIs ----------------------------------------------------------------------------------


def test_a_goal_on_track_with_nothing_under_it_is_green_and_says_what_was_checked():
    goal = goal_with_kpi(due_date=days(400))
    found = verdict(goal)
    assert found.health == "green"
    assert found.reasons == (
        "1 KPI on track.",
        "No live project under it yet; no open critical flags.",
    )


def test_a_goal_without_kpis_is_amber():
    found = verdict(GoalFactory())
    assert (found.health, found.reasons) == ("amber", ("No KPI measures this goal.",))


def test_a_kpi_without_a_reading_makes_it_amber():
    found = verdict(goal_with_kpi(current=None))
    assert found.health == "amber"
    assert found.reasons == ("KPI “Revenue” has no reading yet.",)


def test_a_kpi_past_its_due_date_short_of_target_makes_it_red():
    found = verdict(goal_with_kpi(due_date=days(-1), current=Decimal(14)))
    assert found.health == "red"
    assert found.reasons == ("KPI “Revenue” was due on 31 May 2026 and is at 40% of its target.",)


def test_a_kpi_past_its_due_date_that_reached_its_target_is_fine():
    assert verdict(goal_with_kpi(due_date=days(-1), current=Decimal(20))).health == "green"


def test_a_kpi_due_on_the_day_is_not_yet_overdue():
    found = verdict(goal_with_kpi(due_date=days(0), current=Decimal(14)))
    assert found.health == "amber"  # due soon and under half way, but not past due


@pytest.mark.parametrize(
    ("due_in", "current", "health"),
    [
        (90, Decimal("14.9"), "amber"),  # due within 90 days, 49% of the way
        (90, Decimal("15"), "green"),  # exactly half way
        (91, Decimal("11"), "green"),  # under half way, but not due soon
    ],
)
def test_a_kpi_due_soon_must_be_half_way(due_in, current, health):
    assert verdict(goal_with_kpi(due_date=days(due_in), current=current)).health == health


def test_lower_is_better_kpis_count_progress_downwards():
    overdue = goal_with_kpi(
        baseline=Decimal(12),
        target=Decimal(8),
        current=Decimal(11),
        direction=Direction.DECREASE,
        due_date=days(-5),
    )
    reached = goal_with_kpi(
        baseline=Decimal(12),
        target=Decimal(8),
        current=Decimal("7.5"),
        direction=Direction.DECREASE,
        due_date=days(-5),
    )
    assert "is at 25% of its target" in verdict(overdue).reasons[0]
    assert verdict(reached).health == "green"


def test_the_thresholds_are_settings(settings):
    goal = goal_with_kpi(due_date=days(120), current=Decimal(12))
    assert verdict(goal).health == "green"
    settings.GOAL_HEALTH_KPI_DUE_SOON_DAYS = 150
    assert verdict(goal).health == "amber"
    settings.GOAL_HEALTH_KPI_HALFWAY_PCT = 20
    assert verdict(goal).health == "green"


# --- Projects and flags ---------------------------------------------------------------------


def test_the_newest_check_in_decides_a_projects_part():
    goal = goal_with_kpi()
    project, _ = project_under(goal)
    ProjectCheckInFactory(project=project, checked_in_on=days(-30), health=Health.OFF_TRACK)
    ProjectCheckInFactory(project=project, checked_in_on=days(-2), health=Health.ON_TRACK)
    found = verdict(goal)
    assert found.health == "green"
    assert found.reasons[-1] == "1 live project, none at risk or off track; no open critical flags."


def test_a_project_off_track_makes_it_red_and_at_risk_amber():
    goal = goal_with_kpi()
    off, _ = project_under(goal)
    risky, _ = project_under(goal)
    project_under(goal)
    ProjectCheckInFactory(project=off, checked_in_on=days(-1), health=Health.OFF_TRACK)
    ProjectCheckInFactory(project=risky, checked_in_on=days(-1), health=Health.AT_RISK)
    found = verdict(goal)
    assert found.health == "red"
    assert found.reasons == (
        "1 of 3 live projects off track at the newest check-in.",
        "1 of 3 live projects at risk at the newest check-in.",
    )
    ProjectCheckInFactory(project=off, checked_in_on=days(0), health=Health.ON_TRACK)
    assert verdict(goal).reasons == ("1 of 3 live projects at risk at the newest check-in.",)
    assert verdict(goal).health == "amber"


def test_done_projects_and_those_under_a_retired_business_strategy_do_not_count():
    goal = goal_with_kpi()
    done, _ = project_under(goal, status=ProjectStatus.DONE)
    retired, _ = project_under(goal, bs_status=StrategyStatus.RETIRED)
    for project in (done, retired):
        ProjectCheckInFactory(project=project, checked_in_on=days(-1), health=Health.OFF_TRACK)
        critical_flag(project)
    assert verdict(goal).health == "green"


def test_an_open_critical_flag_makes_it_red_but_not_a_warning_or_a_resolved_one():
    goal = goal_with_kpi()
    project, _ = project_under(goal)
    critical_flag(project, severity="warning", rule="project.stalled")
    critical_flag(project, state=FlagState.RESOLVED, rule="project.untraced")
    assert verdict(goal).health == "green"
    critical_flag(project, state=FlagState.ACKNOWLEDGED)
    found = verdict(goal)
    assert (found.health, found.reasons) == ("red", ("1 open critical flag.",))


def test_a_project_linked_twice_under_one_goal_counts_once():
    goal = goal_with_kpi()
    project, business = project_under(goal)
    ProjectLinkFactory(project=project, crm_strategy=CRMStrategyFactory(serves=[business]))
    ProjectCheckInFactory(project=project, checked_in_on=days(-1), health=Health.AT_RISK)
    critical_flag(project)
    assert verdict(goal).reasons == (
        "1 open critical flag.",
        "1 of 1 live project at risk at the newest check-in.",
    )


def test_a_business_strategy_is_judged_by_its_own_projects_and_not_by_kpis():
    goal = goal_with_kpi(current=None)
    project, business = project_under(goal)
    _, calm = project_under(goal)
    ProjectCheckInFactory(project=project, checked_in_on=days(-1), health=Health.OFF_TRACK)
    found = verdicts_for("business_strategy", [business.pk, calm.pk], today=TODAY)
    assert found[business.pk].health == "red"
    assert found[calm.pk].health == "green"
    assert verdict(goal).health == "red"


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="No health for 'project'"):
        verdicts_for("project", [1])


def test_the_cost_does_not_grow_with_the_number_of_goals():
    def cost(n):
        goals = []
        for _ in range(n):
            goal = goal_with_kpi()
            project, _ = project_under(goal)
            ProjectCheckInFactory(project=project, checked_in_on=days(-1), health=Health.AT_RISK)
            goals.append(goal.pk)
        with CaptureQueriesContext(connection) as captured:
            found = verdicts_for("goal", goals, today=TODAY)
        assert {v.health for v in found.values()} == {"amber"}
        return len(captured)

    assert cost(2) == cost(20)


def test_what_a_scan_records_for_both_kinds_at_once_equals_each_kind_judged_alone():
    """recorded() reads the links and the projects' figures once for goals and business
    strategies together: each verdict is the one judged for its kind alone."""
    goal = goal_with_kpi()
    project, business = project_under(goal)
    ProjectCheckInFactory(project=project, checked_in_on=days(-1), health=Health.OFF_TRACK)
    _, calm = project_under(goal)
    other = goal_with_kpi()
    linked_twice, other_business = project_under(other)
    # One project under both goals, through another CRM strategy.
    ProjectLinkFactory(project=linked_twice, crm_strategy=CRMStrategyFactory(serves=[business]))
    critical_flag(linked_twice)
    ProjectCheckInFactory(project=linked_twice, checked_in_on=days(-2), health=Health.AT_RISK)

    kept = recorded()

    goals = [goal.pk, other.pk]
    strategies = [business.pk, calm.pk, other_business.pk]
    for kind, ids in (("goal", goals), ("business_strategy", strategies)):
        alone = verdicts_for(kind, ids)
        assert kept[kind] == {
            str(pk): [verdict.health, list(verdict.reasons)] for pk, verdict in alone.items()
        }
    assert kept["goal"][str(other.pk)][0] == "red"
    assert "2 live projects" in " ".join(kept["business_strategy"][str(business.pk)][1])


def _work_mem():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_bytes(current_setting('work_mem'))")
        return cursor.fetchone()[0]


def _set_work_mem(value, *, local):
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('work_mem', %s, %s)", [value, local])


MB = 1024 * 1024


@pytest.mark.skipif(connection.vendor != "postgresql", reason="work_mem is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_reading_every_goal_raises_work_mem_for_its_own_transaction_only():
    project_under(goal_with_kpi())
    _set_work_mem("4MB", local=False)
    try:
        recorded()
        assert _work_mem() == 4 * MB  # its transaction has ended: the session's value again
        with transaction.atomic():
            recorded()
            assert _work_mem() == 16 * MB  # raised in the caller's transaction …
        assert _work_mem() == 4 * MB  # … until it ends
    finally:
        _set_work_mem("4MB", local=False)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="work_mem is PostgreSQL's")
def test_reading_every_goal_never_lowers_a_transactions_work_mem():
    project_under(goal_with_kpi())
    _set_work_mem("64MB", local=True)  # as a scan's snapshot runs
    recorded()
    assert _work_mem() == 64 * MB
