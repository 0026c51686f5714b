"""The events the scan, the daily reminders, a retired parent and an import job emit: who
hears of what, once."""

import datetime

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alignment import engine, notify
from alignment.models import Flag, FlagState, Severity
from core import events
from notifications import tasks
from notifications.models import DeliveryKind, EventRecord, MailDelivery, Notification
from onboarding import jobs
from onboarding.models import ImportJob
from projects.models import ProjectStatus
from strategies import services as strategy_services
from tests.alignment.conftest import healthy_project
from tests.factories import CRMStrategyFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def scan(capture):
    with capture(execute=True):
        return engine.scan_full()


def expire_waiver(flags, reason="Until the new chain"):
    """The flags waived ten days ago, with a waiver that expired a minute ago."""
    now = timezone.now()
    flags.update(
        state=FlagState.WAIVED,
        waived_at=now - datetime.timedelta(days=10),
        waiver_reason=reason,
        waiver_expires_at=now - datetime.timedelta(minutes=1),
    )


def test_a_scan_tells_manager_and_sponsor_of_new_flags_once_per_project_and_severity(
    django_capture_on_commit_callbacks,
):
    project = ProjectFactory(status=ProjectStatus.ACTIVE)  # no chain: critical; no metric…
    bystander = UserFactory(username="bystander")
    scan(django_capture_on_commit_callbacks)

    opened = EventRecord.objects.filter(type=events.FLAG_OPENED)
    assert set(opened.values_list("severity", flat=True)) == {"critical", "warning"}
    critical = opened.get(severity="critical")
    expected = Flag.objects.filter(project=project, severity=Severity.CRITICAL).count()
    assert critical.data["count"] == expected
    assert {f["rule"] for f in critical.data["flags"]} >= {"project.untraced"}
    assert critical.path == f"/projects/{project.pk}/"
    people = {project.manager_id, project.sponsor_id}
    assert set(Notification.objects.values_list("user_id", flat=True)) == people
    assert not Notification.objects.filter(user=bystander).exists()
    # Critical: mailed at once to both; warnings: waiting for the digest.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [project.manager.email, project.sponsor.email]
    )
    assert all(m.subject.startswith("[Critical] ") for m in mail.outbox)
    assert MailDelivery.objects.filter(kind=DeliveryKind.DIGEST_ITEM).count() == 2

    # The next scan opens nothing new: nobody hears of it again.
    scan(django_capture_on_commit_callbacks)
    assert opened.count() == 2
    assert len(mail.outbox) == 2


def test_a_scan_opening_flags_on_2_or_12_projects_takes_the_same_queries(
    django_capture_on_commit_callbacks,
):
    def queries_for(n):
        Flag.objects.all().delete()
        ProjectFactory.create_batch(n, status=ProjectStatus.ACTIVE)
        with (
            django_capture_on_commit_callbacks() as told_later,
            CaptureQueriesContext(connection) as scanning,
        ):
            scan = engine.scan_full()
        assert not EventRecord.objects.filter(
            type=events.FLAG_OPENED, occurred_at=scan.evaluated_at
        )
        # The scan queued its follow-up: telling people, which also costs no more for more.
        assert len(told_later) == 1
        with CaptureQueriesContext(connection) as telling:
            told = notify.tell_scan(scan.pk)
        assert (
            told
            == EventRecord.objects.filter(
                type=events.FLAG_OPENED, occurred_at=scan.evaluated_at
            ).count()
        )
        return len(scanning), len(telling), told

    # 2 then 12 projects (the first 2 are flagged again): within one INSERT on SQLite too, which
    # splits a statement over 999 parameters (PostgreSQL has no such limit).
    small_scan, small_tell, small_events = queries_for(2)
    large_scan, large_tell, large_events = queries_for(10)
    assert large_events > small_events
    assert (large_scan, large_tell) == (small_scan, small_tell)


def test_a_full_scan_tells_people_after_it_commits_in_its_own_task(
    django_capture_on_commit_callbacks,
):
    """The scan's transaction writes the flags and stamps them; who hears of them is the
    follow-up task's, queued when the scan commits: a rolled-back scan tells nobody."""
    project = ProjectFactory(status=ProjectStatus.ACTIVE)
    opened = EventRecord.objects.filter(type=events.FLAG_OPENED)
    with django_capture_on_commit_callbacks() as callbacks:
        scan = engine.scan_full()
    assert not opened.exists()
    assert scan.evaluated_at is not None and scan.told_at is None
    stamped = Flag.objects.filter(project=project, opened_at=scan.evaluated_at)
    assert stamped.count() == Flag.objects.filter(project=project).count() > 0

    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()  # what the commit runs: queue tell_scan (run here, in-process)
    scan.refresh_from_db()
    assert scan.told_at is not None
    assert set(opened.values_list("subject_id", flat=True)) == {project.pk}
    assert {f["id"] for e in opened for f in e.data["flags"]} <= set(
        stamped.values_list("pk", flat=True)
    )
    # Told once: running it again (a redelivered message, the sweep) records nothing more.
    count = opened.count()
    assert notify.tell_scan(scan.pk) is None
    assert opened.count() == count


def test_a_scan_that_opens_nothing_is_told_at_once_and_queues_nothing(
    django_capture_on_commit_callbacks,
):
    ProjectFactory(status=ProjectStatus.ACTIVE)
    scan(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks() as callbacks:
        steady = engine.scan_full()
    assert steady.opened == 0
    assert steady.told_at == steady.evaluated_at is not None
    assert callbacks == []


def test_a_lost_telling_task_is_queued_again_by_the_sweep(django_capture_on_commit_callbacks):
    from alignment import tasks as alignment_tasks

    project = ProjectFactory(status=ProjectStatus.ACTIVE)
    with django_capture_on_commit_callbacks():  # the commit's callback is lost (worker killed)
        scan = engine.scan_full()
    opened = EventRecord.objects.filter(type=events.FLAG_OPENED)
    # Within the sweep's grace the task may still be on its way: left alone.
    with django_capture_on_commit_callbacks(execute=True):
        alignment_tasks.sweep_stale_scans()
    assert not opened.exists()
    type(scan).objects.filter(pk=scan.pk).update(
        finished_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    with django_capture_on_commit_callbacks(execute=True):
        alignment_tasks.sweep_stale_scans()
    scan.refresh_from_db()
    assert scan.told_at is not None
    assert set(opened.values_list("subject_id", flat=True)) == {project.pk}
    assert {m.to[0] for m in mail.outbox} == {project.manager.email, project.sponsor.email}


def test_a_flag_resolved_before_its_scan_told_anyone_is_not_told(
    django_capture_on_commit_callbacks,
):
    fixed = ProjectFactory(status=ProjectStatus.ACTIVE)
    still = ProjectFactory(status=ProjectStatus.ACTIVE)
    with django_capture_on_commit_callbacks():
        scan = engine.scan_full()
    Flag.objects.filter(project=fixed).update(state=FlagState.RESOLVED)
    notify.tell_scan(scan.pk)
    told = EventRecord.objects.filter(type=events.FLAG_OPENED)
    assert set(told.values_list("subject_id", flat=True)) == {still.pk}


def test_only_a_finished_full_scan_is_told(django_capture_on_commit_callbacks):
    ProjectFactory(status=ProjectStatus.ACTIVE)
    with django_capture_on_commit_callbacks():
        scan = engine.scan_full()
    type(scan).objects.filter(pk=scan.pk).update(state="failed")
    assert notify.tell_scan(scan.pk) is None
    assert notify.tell_scan(scan.pk + 1000) is None
    assert not EventRecord.objects.filter(type=events.FLAG_OPENED).exists()


def test_a_reopened_waiver_tells_them_again(django_capture_on_commit_callbacks):
    project = ProjectFactory(status=ProjectStatus.ACTIVE)
    scan(django_capture_on_commit_callbacks)
    before = EventRecord.objects.filter(type=events.FLAG_OPENED).count()
    flag = Flag.objects.get(project=project, rule="project.untraced")
    expire_waiver(Flag.objects.filter(pk=flag.pk))
    scan(django_capture_on_commit_callbacks)
    reopened = EventRecord.objects.filter(type=events.FLAG_OPENED).order_by("-pk").first()
    assert EventRecord.objects.filter(type=events.FLAG_OPENED).count() == before + 1
    assert reopened.severity == "critical"
    assert [f["id"] for f in reopened.data["flags"]] == [flag.pk]


def test_a_recheck_tells_of_its_projects_new_and_reopened_flags(
    django_capture_on_commit_callbacks,
):
    """A re-check reads only its projects' flags for who to tell: its project's new flag and
    its reopened waiver are told, and nothing of another project's."""
    checked = ProjectFactory(status=ProjectStatus.ACTIVE)
    other = ProjectFactory(status=ProjectStatus.ACTIVE)
    scan(django_capture_on_commit_callbacks)
    opened = EventRecord.objects.filter(type=events.FLAG_OPENED)
    before = set(opened.values_list("pk", flat=True))
    expire_waiver(Flag.objects.filter(project=checked, rule="project.untraced"))
    # Another project's waiver expired too: not this re-check's to tell.
    expire_waiver(Flag.objects.filter(project=other, rule="project.untraced"), reason="Later")
    type(checked).objects.filter(pk=checked.pk).update(sponsor=None)  # opens project.no_sponsor

    with django_capture_on_commit_callbacks(execute=True):
        engine.scan_projects([checked.pk])

    told = opened.exclude(pk__in=before)
    assert set(told.values_list("subject_id", flat=True)) == {checked.pk}
    told_flags = {f["rule"] for event in told for f in event.data["flags"]}
    assert {"project.untraced", "project.no_sponsor"} <= told_flags
    assert Notification.objects.filter(event__in=told, user_id=checked.manager_id).exists()


def test_waivers_expiring_within_7_days_reach_the_granter_and_the_project_once():
    project = ProjectFactory(status=ProjectStatus.ACTIVE)
    granter = UserFactory(username="granter")
    engine.scan_full()
    now = timezone.now()
    soon, later = Flag.objects.filter(project=project)[:2]
    Flag.objects.filter(pk=soon.pk).update(
        state=FlagState.WAIVED,
        waived_by=granter,
        waived_at=now,
        waiver_reason="Fixed next sprint",
        waiver_expires_at=now + datetime.timedelta(days=3),
    )
    Flag.objects.filter(pk=later.pk).update(
        state=FlagState.WAIVED,
        waived_by=granter,
        waived_at=now,
        waiver_reason="Fixed next sprint",
        waiver_expires_at=now + datetime.timedelta(days=8),
    )
    assert tasks.emit_daily_reminders()["waivers"] == 1
    record = EventRecord.objects.get(type=events.WAIVER_EXPIRING)
    assert record.subject_id == soon.pk
    assert set(record.notifications.values_list("user_id", flat=True)) == {
        granter.pk,
        project.manager_id,
        project.sponsor_id,
    }
    # Default for waivers: the digest, not a mail now.
    assert mail.outbox == []
    tasks.emit_daily_reminders()
    assert EventRecord.objects.filter(type=events.WAIVER_EXPIRING).count() == 1


def test_check_in_due_five_days_before_the_stalled_rule_flags_the_project():
    today = timezone.localdate()
    due = healthy_project(start_date=today - datetime.timedelta(days=26))
    due.check_ins.all().delete()
    not_yet = healthy_project(start_date=today - datetime.timedelta(days=25))
    not_yet.check_ins.all().delete()
    assert tasks.emit_daily_reminders(today.isoformat())["check_ins"] == 1
    record = EventRecord.objects.get(type=events.CHECK_IN_DUE)
    assert record.subject_id == due.pk
    assert list(record.notifications.values_list("user_id", flat=True)) == [due.manager_id]
    # Five days later the rule does flag it: the two agree.
    later = today + datetime.timedelta(days=5)
    engine.evaluate(engine.Scope(), now=timezone.now() + datetime.timedelta(days=5))
    stalled = Flag.objects.filter(rule="project.stalled", state=FlagState.OPEN)
    assert list(stalled.values_list("subject_id", flat=True)) == [due.pk]
    assert notify.check_ins_due(later).count() == 0


def test_retiring_a_crm_strategy_tells_the_projects_below_with_the_impact(
    django_capture_on_commit_callbacks,
):
    executive = UserFactory(username="exec", roles=["executive"])
    strategy = CRMStrategyFactory()
    below = healthy_project(crm_strategy=strategy)
    elsewhere = healthy_project()
    with django_capture_on_commit_callbacks(execute=True):
        strategy_services.crm_strategy_update(
            actor=executive, crm_strategy_id=strategy.pk, changes={"status": "retired"}
        )
    record = EventRecord.objects.get(type=events.PARENT_RETIRED)
    assert record.subject_id == below.pk
    assert record.data["parent_title"] == strategy.title
    assert record.data["projects"] == 1
    assert "1 live project" in record.data["impact"]
    assert set(record.notifications.values_list("user_id", flat=True)) == {
        below.manager_id,
        below.sponsor_id,
    }
    assert not Notification.objects.filter(user=elsewhere.manager).exists()
    # (The re-check the change queues then flags the broken chain: a mail of its own.)
    retired = [m for m in mail.outbox if "was retired" in m.subject]
    assert sorted(m.to[0] for m in retired) == sorted([below.manager.email, below.sponsor.email])
    assert record.data["impact"] in retired[0].body


def test_a_failed_import_tells_who_started_it():
    starter = UserFactory(username="starter", roles=["executive"])
    job = ImportJob.objects.create(created_by=starter, filename="portfolio.xlsx", content=b"")
    assert jobs.fail(job.pk, "Refused: not a workbook.")
    record = EventRecord.objects.get(type=events.JOB_FINISHED)
    assert record.summary == "Your check of “portfolio.xlsx” failed"
    assert record.path == f"/import/jobs/{job.pk}/"
    assert list(record.notifications.values_list("user_id", flat=True)) == [starter.pk]
    # A second failure report of the finished job changes nothing and says nothing.
    assert not jobs.fail(job.pk, "again")
    assert EventRecord.objects.filter(type=events.JOB_FINISHED).count() == 1
