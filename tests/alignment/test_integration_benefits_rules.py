"""project.integration_unplanned and project.benefits_unreviewed: a case that fires, one that
does not, the boundary of each threshold, the settings, and a query count that does not grow
with the portfolio."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alignment import engine
from alignment.models import Flag
from alignment.rules import RULES, RuleContext, rule_for
from projects.models import IntegrationStatus, PhaseKind, ProjectStatus
from tests.factories import (
    MetricReadingFactory,
    ProjectSystemFactory,
    RoadmapPhaseFactory,
    SystemFactory,
    rule_settings,
)
from tests.rows import scan_statements

from .conftest import flagged, healthy_project, scan, today

pytestmark = pytest.mark.django_db

UNPLANNED = "project.integration_unplanned"
UNREVIEWED = "project.benefits_unreviewed"


def days(n: int) -> datetime.date:
    return today() + datetime.timedelta(days=n)


def go_live(project, on, **fields):
    return RoadmapPhaseFactory(
        project=project, kind=PhaseKind.MILESTONE, go_live=True, start_date=on, **fields
    )


def test_both_rules_are_in_the_catalogue_with_their_defaults():
    assert rule_for(UNPLANNED).threshold_default == 60
    assert rule_for(UNREVIEWED).threshold_default == 90
    for code in (UNPLANNED, UNREVIEWED):
        assert RULES[code].subject_type == "project"
        assert RULES[code].project_scoped  # re-checked per project, in the readiness list
    codes = set(rule_settings().values_list("code", flat=True))
    assert {UNPLANNED, UNREVIEWED} <= codes  # the admin can set them


# --- project.integration_unplanned ---------------------------------------------------------


def _touching(
    title, go_live_in, *, integration=IntegrationStatus.NOT_STARTED, owned=True, **fields
):
    project = healthy_project(title=title, **fields)
    go_live(project, days(go_live_in))
    extra = {} if owned else {"owner": None}
    ProjectSystemFactory(project=project, status=integration, **extra)
    return project


def test_an_unstarted_integration_within_the_window_is_flagged_and_named():
    project = _touching("Portal", 30)
    ProjectSystemFactory(project=project, system=SystemFactory(name="Billing"), owner=None)
    ProjectSystemFactory(project=project, system=SystemFactory(name="Warehouse"))  # planned
    scan()
    assert flagged(UNPLANNED) == {"Portal"}
    message = Flag.objects.get(rule=UNPLANNED).message
    assert "Billing" in message
    assert "Warehouse" not in message
    assert "60 days" in message


def test_the_window_is_at_most_the_threshold_days_before_the_first_go_live():
    _touching("Exactly sixty", 60)
    _touching("Sixty-one", 61)
    _touching("Past", -10)  # went live with the integration still unplanned: worse
    scan()
    assert flagged(UNPLANNED) == {"Exactly sixty", "Past"}


def test_the_first_go_live_counts_not_a_later_one_nor_a_plain_milestone():
    later = _touching("Far first", 200)
    go_live(later, days(10))  # an earlier go-live makes the first one near
    plain = healthy_project(title="Milestone only")
    RoadmapPhaseFactory(project=plain, kind=PhaseKind.MILESTONE, start_date=days(5))
    ProjectSystemFactory(project=plain, status=IntegrationStatus.NOT_STARTED)
    undated = healthy_project(title="Undated go-live")
    go_live(undated, None)
    ProjectSystemFactory(project=undated, status=IntegrationStatus.NOT_STARTED)
    scan()
    assert flagged(UNPLANNED) == {"Far first"}


@pytest.mark.parametrize(
    ("status", "owned", "expected"),
    [
        (IntegrationStatus.NOT_STARTED, True, True),
        (IntegrationStatus.DESIGNED, False, True),
        (IntegrationStatus.LIVE, False, True),
        (IntegrationStatus.DESIGNED, True, False),
        (IntegrationStatus.TESTED, True, False),
    ],
)
def test_an_integration_is_unplanned_when_not_started_or_unowned(status, owned, expected):
    _touching("P", 10, integration=status, owned=owned)
    scan()
    assert flagged(UNPLANNED) == ({"P"} if expected else set())


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (ProjectStatus.APPROVED, True),
        (ProjectStatus.ACTIVE, True),
        (ProjectStatus.PROPOSED, False),
        (ProjectStatus.ON_HOLD, False),
        (ProjectStatus.DONE, False),
        (ProjectStatus.CANCELLED, False),
    ],
)
def test_only_approved_and_active_projects_are_checked_for_integrations(status, expected):
    _touching("P", 10, status=status)
    scan()
    assert flagged(UNPLANNED) == ({"P"} if expected else set())


def test_a_project_with_no_systems_has_nothing_unplanned():
    project = healthy_project(title="No systems")
    go_live(project, days(1))
    scan()
    assert flagged(UNPLANNED) == set()


def test_the_integration_window_comes_from_the_rule_setting():
    _touching("In 20", 20)
    _touching("In 40", 40)
    rule_settings().filter(code=UNPLANNED).update(threshold=30)
    scan()
    assert flagged(UNPLANNED) == {"In 20"}
    assert "30 days" in Flag.objects.get(rule=UNPLANNED).message


def test_planning_the_integration_resolves_the_flag():
    project = _touching("Portal", 5)
    scan()
    assert flagged(UNPLANNED) == {"Portal"}
    project.systems.update(status=IntegrationStatus.DESIGNED)
    scan()
    assert flagged(UNPLANNED) == set()


# --- project.benefits_unreviewed -----------------------------------------------------------


def _went_live(title, days_ago, **fields):
    project = healthy_project(title=title, **fields)
    go_live(project, days(-days_ago))
    return project


def test_a_project_live_for_more_than_the_threshold_without_a_reading_is_flagged():
    _went_live("Exactly ninety", 90)
    _went_live("Ninety-one", 91)
    _went_live("Fresh", 10)
    scan()
    assert flagged(UNREVIEWED) == {"Ninety-one"}
    assert "90 days" in Flag.objects.get(rule=UNREVIEWED).message


def test_only_a_reading_dated_after_go_live_counts():
    before = _went_live("Read before", 120)
    MetricReadingFactory(metric=before.metrics.get(), recorded_on=days(-121))
    on_the_day = _went_live("Read on the day", 120)
    MetricReadingFactory(metric=on_the_day.metrics.get(), recorded_on=days(-120))
    after = _went_live("Read after", 120)
    MetricReadingFactory(metric=after.metrics.get(), recorded_on=days(-119))
    scan()
    assert flagged(UNREVIEWED) == {"Read before", "Read on the day"}


def test_a_done_project_without_a_go_live_counts_from_its_end_date():
    healthy_project(
        title="Ended long ago",
        status=ProjectStatus.DONE,
        start_date=days(-400),
        end_date=days(-91),
    )
    healthy_project(
        title="Ended lately", status=ProjectStatus.DONE, start_date=days(-400), end_date=days(-90)
    )
    healthy_project(title="Done, undated", status=ProjectStatus.DONE, end_date=None)
    healthy_project(title="Active, no go-live", start_date=days(-400), end_date=days(-200))
    scan()
    assert flagged(UNREVIEWED) == {"Ended long ago"}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (ProjectStatus.APPROVED, True),
        (ProjectStatus.ACTIVE, True),
        (ProjectStatus.ON_HOLD, True),
        (ProjectStatus.DONE, True),
        (ProjectStatus.PROPOSED, False),
        (ProjectStatus.CANCELLED, False),
    ],
)
def test_benefits_are_due_for_every_project_that_went_live_but_cancelled_ones(status, expected):
    _went_live("P", 100, status=status)
    scan()
    assert flagged(UNREVIEWED) == ({"P"} if expected else set())


def test_the_review_period_comes_from_the_rule_setting():
    _went_live("Forty days", 40)
    _went_live("Twenty days", 20)
    rule_settings().filter(code=UNREVIEWED).update(threshold=30)
    scan()
    assert flagged(UNREVIEWED) == {"Forty days"}


def test_a_switched_off_rule_flags_nothing():
    _went_live("Long live", 200)
    _touching("Soon", 5)
    rule_settings().filter(code__in=[UNREVIEWED, UNPLANNED]).update(enabled=False)
    scan()
    assert flagged(UNREVIEWED) == flagged(UNPLANNED) == set()


# --- set-based -----------------------------------------------------------------------------


def _portfolio(n: int) -> None:
    for i in range(n):
        project = _touching(f"Unplanned {n}-{i}", 10)
        go_live(project, days(-100))
        MetricReadingFactory(metric=project.metrics.get(), recorded_on=days(-200))


def test_the_rules_and_a_full_scan_cost_the_same_for_10_and_200_such_projects():
    engine.scan_full()  # the rule settings rows exist from here on
    costs = []
    for n in (10, 200):
        _portfolio(n - (len(costs) and 10))
        per_rule = []
        for code in (UNPLANNED, UNREVIEWED):
            ctx = RuleContext(today=today(), threshold=RULES[code].threshold_default)
            with CaptureQueriesContext(connection) as captured:
                found = list(RULES[code].findings(ctx)["project"].values_list("pk", flat=True))
            assert len(found) == n
            per_rule.append(len(captured))
        with CaptureQueriesContext(connection) as captured:
            engine.scan_full()
        costs.append((per_rule, scan_statements(captured)))
        assert len(flagged(UNPLANNED)) == len(flagged(UNREVIEWED)) == n
    assert costs[0] == costs[1]
    assert costs[0][0] == [1, 1]


# --- re-checks ------------------------------------------------------------------------------


def test_a_project_system_or_a_reading_change_queues_a_recheck_of_its_project(
    queued_rechecks, django_capture_on_commit_callbacks
):
    from projects import services

    project = healthy_project(title="Portal")
    system = SystemFactory(name="ERP")
    admin = project.manager
    admin.is_superuser = True
    admin.save()
    metric = project.metrics.get()
    from django.core.cache import cache

    def queued_by(action):
        cache.clear()  # no re-check pending: each edit queues its own
        before = len(queued_rechecks)
        with django_capture_on_commit_callbacks(execute=True):
            result = action()
        assert [args[0] for args in queued_rechecks[before:]] == [[project.pk]]
        return result

    row = queued_by(
        lambda: services.project_system_add(
            actor=admin, project_id=project.pk, system=system, status="designed"
        )
    )
    queued_by(lambda: services.metric_reading_create(actor=admin, metric_id=metric.pk, value="3"))
    queued_by(lambda: services.project_system_remove(actor=admin, project_system_id=row.pk))
