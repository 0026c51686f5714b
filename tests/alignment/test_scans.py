"""Scan cost, the command, live re-checks queued by edits, the lock, the admin."""

import datetime
from io import StringIO

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alignment import engine, locks
from alignment.models import Flag, FlagState, RuleSetting, Scan, ScanKind, ScanMatch, ScanState
from alignment.rules import RULES
from crm_alignment.celery import app as celery_app
from projects.models import ProjectStatus
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    DepartmentFactory,
    FeatureFactory,
    FeatureLinkFactory,
    GoalFactory,
    ProjectFactory,
    ProjectLinkFactory,
    UserFactory,
)
from tests.rows import scan_statements

from .conftest import flagged, healthy_project, scan

pytestmark = pytest.mark.django_db


def _portfolio(n):
    """n projects of every kind of trouble (and health), with features."""
    it = DepartmentFactory(name="IT", is_it=True)
    manager = UserFactory()
    for i in range(n):
        kind = i % 4
        if kind == 0:
            project = healthy_project(manager=manager)
        elif kind == 1:
            project = ProjectFactory(status=ProjectStatus.ACTIVE, sponsor=None, department=it)
        elif kind == 2:
            project = ProjectFactory(status=ProjectStatus.APPROVED, budget_people=0)
            ProjectLinkFactory(project=project, crm_strategy=CRMStrategyFactory(serves=[]))
        else:
            project = healthy_project()
        feature = FeatureFactory(project=project)
        FeatureLinkFactory(feature=feature)
    GoalFactory()
    BusinessStrategyFactory()


def _full_scan_queries():
    """The scan's statements (tests.rows.scan_statements)."""
    with CaptureQueriesContext(connection) as captured:
        result = scan()
    assert result.state == ScanState.DONE
    return scan_statements(captured)


def test_a_full_scan_costs_the_same_queries_for_30_and_for_200_projects():
    # 30: enough for every condition of the 200 (a manager and a department overloaded too);
    # a rule that matches nothing costs fewer statements than one that matches.
    _portfolio(30)
    first_small = _full_scan_queries()
    again_small = _full_scan_queries()
    Flag.objects.all().delete()
    _portfolio(170)
    assert _full_scan_queries() == first_small
    assert _full_scan_queries() == again_small
    assert Flag.objects.filter(rule="project.untraced").count() > 40


def _troubled_projects(n):
    """n live projects, each with a feature, in a mix of states that several rules flag."""
    projects = []
    for i in range(n):
        if i % 3 == 0:
            project = healthy_project()
        elif i % 3 == 1:
            project = ProjectFactory(status=ProjectStatus.ACTIVE, sponsor=None)
        else:
            project = ProjectFactory(status=ProjectStatus.APPROVED, budget_people=0)
            ProjectLinkFactory(project=project, crm_strategy=CRMStrategyFactory(serves=[]))
        FeatureLinkFactory(feature=FeatureFactory(project=project))
        projects.append(project)
    return [p.pk for p in projects]


def test_a_recheck_costs_the_same_queries_for_3_and_for_17_projects(db, django_assert_num_queries):
    ids = _troubled_projects(20)
    engine.effective_settings()  # the first scan ever creates the rule settings
    # Both re-checks open flags for projects no scan has seen yet (insert, not just refresh),
    # and each set has every kind of trouble: the same rules match, whatever the count.
    with CaptureQueriesContext(connection) as three:
        recheck = engine.scan_projects(ids[:3])
    assert recheck.state == ScanState.DONE and recheck.opened > 0
    with django_assert_num_queries(len(three.captured_queries)):
        recheck = engine.scan_projects(ids[3:])
    assert recheck.state == ScanState.DONE
    assert Flag.objects.filter(project_id__in=ids[3:]).exists()
    # Re-checks that find their flags again (resolve, refresh, nothing new) cost the same too.
    with CaptureQueriesContext(connection) as three_again:
        recheck = engine.scan_projects(ids[:3])
    assert recheck.opened == recheck.resolved == 0
    with django_assert_num_queries(len(three_again.captured_queries)):
        engine.scan_projects(ids)


def scan_with(wrapper):
    """A full scan, each of its statements through `wrapper`."""
    with connection.execute_wrapper(wrapper):
        return scan()


@pytest.mark.postgres
def test_a_large_insert_of_new_flags_alone_runs_without_nested_loops(monkeypatch):
    """The insert of new flags reads the flags table (which subjects have one already) while it
    writes to it. Over a table analysed as empty (a new portfolio's first scan, once
    autovacuum has been by) PostgreSQL planned a nested-loop anti-join that read the whole
    heap again per new flag, the pages being written included: quadratic, over 100 s for the
    121,083 flags of 100,000 projects. For a large match the scan rules nested loops out for
    that statement alone; the rest of its transaction keeps the planner's default, and so does
    a small match (a re-check), which a nested loop over the flags' index serves best."""
    _portfolio(12)
    setting_at_insert = []

    def record(execute, sql, params, many, context):
        if sql.startswith(f'INSERT INTO "{Flag._meta.db_table}"'):
            context["cursor"].execute("SHOW enable_nestloop")
            setting_at_insert.append(context["cursor"].fetchone()[0])
        return execute(sql, params, many, context)

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Flag._meta.db_table}")
        cursor.execute(f"ANALYZE {Flag._meta.db_table}")
    small = scan_with(record)
    assert small.opened > 12 and setting_at_insert == ["on"]
    Flag.objects.all().delete()
    monkeypatch.setattr(engine, "ANALYZE_MATCHES_FROM", small.opened)  # as large as it gets
    setting_at_insert.clear()
    large = scan_with(record)
    assert large.opened == small.opened == Flag.objects.filter(state=FlagState.OPEN).count()
    assert setting_at_insert == ["off"]
    # The test's own transaction holds the scan's (a savepoint): a local setting left behind
    # would show here.
    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_nestloop")
        assert cursor.fetchone()[0] == "on"


@pytest.mark.postgres
def test_a_full_scans_rules_may_run_in_parallel_workers():
    """PostgreSQL runs no part of an INSERT … SELECT in parallel workers; a full scan creates
    its match table from the rules' queries instead (CREATE TABLE … AS), which it may. Costed
    as if the portfolio were large, the plan gathers from workers; a re-check's small match
    still goes into the session's table."""
    _portfolio(12)
    plans = {}

    def explain(execute, sql, params, many, context):
        table = f'"{ScanMatch._meta.db_table}"'
        for kind, start in (
            ("create", f"CREATE TEMPORARY TABLE {table} ("),
            ("insert", f"INSERT INTO {table}"),
        ):
            if sql.startswith(start):
                context["cursor"].execute("EXPLAIN " + sql, params)
                plans[kind] = "\n".join(row[0] for row in context["cursor"].fetchall())
        return execute(sql, params, many, context)

    with connection.cursor() as cursor:
        for name in ("parallel_setup_cost", "parallel_tuple_cost", "min_parallel_table_scan_size"):
            cursor.execute(f"SET LOCAL {name} = 0")
    with connection.execute_wrapper(explain):
        full = scan()
        recheck = engine.scan_projects(
            [Flag.objects.filter(project__isnull=False).first().project_id]
        )
    assert full.state == recheck.state == ScanState.DONE
    assert "Gather" in plans["create"]
    assert "Gather" not in plans["insert"]
    assert Flag.objects.exclude(state=FlagState.RESOLVED).count() == full.opened


def test_scan_alignment_prints_per_rule_counts_and_alignment(db):
    ProjectFactory(title="Loose")
    healthy_project()
    out = StringIO()
    call_command("scan_alignment", stdout=out)
    text = out.getvalue()
    assert "done" in text
    for code in RULES:
        assert code in text
    line = next(row for row in text.splitlines() if row.startswith("project.untraced"))
    assert line.split()[1:] == ["1", "1", "0"]
    assert "1 of 2 live projects traced (50%)" in text
    assert Scan.objects.get().kind == ScanKind.FULL


def test_scan_alignment_says_so_when_the_figures_could_not_be_recorded(db, monkeypatch):
    from alignment import engine

    def lost(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    ProjectFactory(title="Loose")
    monkeypatch.setattr(engine, "_take_snapshot", lost)
    out = StringIO()
    call_command("scan_alignment", stdout=out)
    text = out.getvalue()
    assert "done" in text and "project.untraced" in text
    assert "figures were not recorded" in text and "sweep records them" in text
    assert "live projects traced" not in text


def test_scan_alignment_says_so_when_another_scan_holds_the_lock(db, settings, monkeypatch):
    def busy(spec):
        raise locks.ScanBusy("another scan held the lock for more than 0 seconds")

    monkeypatch.setattr(locks, "lock_in_transaction", busy)
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="another scan"):
        call_command("scan_alignment", stdout=StringIO())
    assert Scan.objects.get().state == ScanState.FAILED


def test_outside_postgresql_a_held_cache_lock_makes_the_scan_wait_then_skip(db, settings):
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL uses the advisory lock (tests/alignment/test_concurrency.py)")
    settings.ALIGNMENT_SCAN_LOCK_WAIT_SECONDS = 0
    cache.add(locks.cache_key(), "someone-else", 60)
    try:
        with pytest.raises(locks.ScanBusy):
            scan()
    finally:
        cache.delete(locks.cache_key())
    assert Scan.objects.get().state == ScanState.FAILED
    assert "Skipped" in Scan.objects.get().error
    assert scan().state == ScanState.DONE


# --- live re-checks -------------------------------------------------------------------------


def test_saving_a_project_rechecks_it_once_committed(db, django_capture_on_commit_callbacks):
    people = {"manager": UserFactory(), "sponsor": UserFactory(), "department": None}
    with django_capture_on_commit_callbacks(execute=True):
        project = ProjectFactory(title="New and loose", **people)
    assert flagged("project.untraced") == {"New and loose"}
    recheck = Scan.objects.get()
    assert recheck.kind == ScanKind.PARTIAL and recheck.state == ScanState.DONE
    with django_capture_on_commit_callbacks(execute=True):
        ProjectLinkFactory(project=project)
    assert flagged("project.untraced") == set()


def test_a_burst_of_edits_to_one_project_queues_one_recheck(
    db, django_capture_on_commit_callbacks, queued_rechecks
):
    from alignment import tasks

    queued = queued_rechecks
    project = ProjectFactory()
    with django_capture_on_commit_callbacks(execute=True):
        project.title = "Edited"
        project.save()
        FeatureFactory(project=project)
        FeatureLinkFactory(feature=FeatureFactory(project=project))
    assert queued == [[[project.pk], {}]]
    cache.delete_many([tasks.recheck_pending_key(project.pk)])


def test_changing_a_goal_queues_a_full_scan(db, django_capture_on_commit_callbacks):
    goal = GoalFactory(title="Lonely")
    with django_capture_on_commit_callbacks(execute=True):
        goal.description = "Now with words"
        goal.save()
    assert flagged("goal.no_strategy") == {"Lonely"}
    assert Scan.objects.get().kind == ScanKind.FULL


def test_retiring_a_goal_breaks_the_chain_within_the_recheck(
    db, django_capture_on_commit_callbacks
):
    project = healthy_project(title="Chained")
    goal = project.links.get().crm_strategy.business_strategies.get().goal
    with django_capture_on_commit_callbacks(execute=True):
        goal.status = "retired"
        goal.save()
    assert flagged("project.broken_chain") == {"Chained"}


@pytest.fixture
def retries_as_on_a_worker():
    """Eager tasks whose retry re-runs the task (as a worker re-queues it) instead of raising."""
    old = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = old


def _busy(monkeypatch, times):
    """Make the first `times` full scans find the lock held; returns the list of attempts."""
    attempts = []
    scan_full = engine.scan_full

    def busy_then_free(**kwargs):
        attempts.append(kwargs)
        if len(attempts) <= times:
            raise locks.ScanBusy("another scan held the lock for more than 0 seconds")
        return scan_full(**kwargs)

    monkeypatch.setattr(engine, "scan_full", busy_then_free)
    return attempts


def test_an_edit_higher_up_the_chain_queues_a_full_scan_that_retries_when_busy(
    db, django_capture_on_commit_callbacks, monkeypatch
):
    from alignment import tasks

    queued = []
    monkeypatch.setattr(
        tasks.run_full_scan, "apply_async", lambda **options: queued.append(options["kwargs"])
    )
    goal = GoalFactory()
    with django_capture_on_commit_callbacks(execute=True):
        goal.description = "Now with words"
        goal.save()
    assert queued == [{"retry_when_busy": True}]
    cache.delete(tasks.full_pending_key())


def test_an_edits_full_scan_that_finds_the_lock_held_is_retried_not_dropped(
    db, monkeypatch, retries_as_on_a_worker
):
    from alignment import tasks

    GoalFactory(title="Lonely")
    attempts = _busy(monkeypatch, times=1)
    countdowns = []
    retry = tasks.run_full_scan.retry

    def recorded_retry(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return retry(*args, **kwargs)

    monkeypatch.setattr(tasks.run_full_scan, "retry", recorded_retry)
    result = tasks.run_full_scan.apply(kwargs={"retry_when_busy": True})
    assert result.successful()
    assert len(attempts) == 2 and countdowns == [30]
    assert flagged("goal.no_strategy") == {"Lonely"}
    assert Scan.objects.get().state == ScanState.DONE


def test_an_edits_full_scan_gives_up_after_its_retries_and_says_so(
    db, monkeypatch, retries_as_on_a_worker
):
    from alignment import tasks

    attempts = _busy(monkeypatch, times=100)
    result = tasks.run_full_scan.apply(kwargs={"retry_when_busy": True})
    assert result.failed() and isinstance(result.result, locks.ScanBusy)
    assert len(attempts) == 1 + tasks.run_full_scan.max_retries


def test_a_periodic_full_scan_that_finds_the_lock_held_is_skipped(
    db, monkeypatch, retries_as_on_a_worker
):
    from alignment import tasks

    attempts = _busy(monkeypatch, times=1)
    entry = settings.CELERY_BEAT_SCHEDULE["alignment-full-scan"]
    result = tasks.run_full_scan.apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}))
    assert result.successful() and len(attempts) == 1


def test_a_queue_outage_never_breaks_the_users_save(
    db, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    from alignment import tasks

    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.recheck_projects, "apply_async", down)
    with django_capture_on_commit_callbacks(execute=True):
        project = ProjectFactory()
    assert project.pk
    assert "Could not queue" in caplog.text
    cache.delete_many([tasks.recheck_pending_key(project.pk)])


# --- admin ----------------------------------------------------------------------------------


def test_an_admin_edits_a_rule_setting_and_sees_flags(admin_user, client):
    ProjectFactory(title="Loose")
    scan()
    client.force_login(admin_user)
    setting = RuleSetting.objects.get(code="project.stalled")
    response = client.post(
        reverse("admin:alignment_rulesetting_change", args=[setting.pk]),
        {"enabled": "on", "severity": "critical", "threshold": "14"},
    )
    assert response.status_code == 302
    setting.refresh_from_db()
    assert (setting.severity, setting.threshold) == ("critical", 14)
    for name in ["flag", "scan", "snapshot", "rulesetting"]:
        assert client.get(reverse(f"admin:alignment_{name}_changelist")).status_code == 200
    flag = Flag.objects.first()
    assert client.get(reverse("admin:alignment_flag_change", args=[flag.pk])).status_code == 200
    assert client.get(reverse("admin:alignment_rulesetting_add")).status_code == 403


def test_the_admin_shows_a_threshold_of_zero_as_zero_like_the_engine(admin_user, client):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    quiet = healthy_project(title="Quiet since yesterday", start_date=yesterday)
    quiet.check_ins.update(checked_in_on=yesterday)
    RuleSetting.objects.update_or_create(
        code="project.stalled", defaults={"severity": "warning", "threshold": 0}
    )
    scan()
    # The engine reads 0 as "more than 0 days"; the admin must say the same.
    assert (
        "more than 0 days" in Flag.objects.get(rule="project.stalled", subject_id=quiet.pk).message
    )
    client.force_login(admin_user)
    setting = RuleSetting.objects.get(code="project.stalled")
    page = client.get(reverse("admin:alignment_rulesetting_change", args=[setting.pk]))
    text = page.content.decode()
    assert "more than 0 days" in text and "more than 30 days" not in text


def test_flags_are_history_that_the_admin_cannot_delete(admin_user, client):
    ProjectFactory(title="Loose")
    scan()
    flag = Flag.objects.get(rule="project.untraced")
    client.force_login(admin_user)
    delete = reverse("admin:alignment_flag_delete", args=[flag.pk])
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    changelist = client.get(reverse("admin:alignment_flag_changelist")).content.decode()
    assert "delete_selected" not in changelist
    assert Flag.objects.filter(pk=flag.pk).exists()


def test_flags_are_refreshed_not_duplicated_when_a_waiver_expires_twice(db, sponsor):
    ProjectFactory(title="Loose", sponsor=sponsor)
    scan()
    past = timezone.now() - datetime.timedelta(days=1)
    Flag.objects.update(state=FlagState.WAIVED, waiver_reason="r", waiver_expires_at=past)
    scan()
    scan()
    assert Flag.objects.filter(rule="project.untraced").count() == 1
    assert Flag.objects.get(rule="project.untraced").state == FlagState.OPEN
