"""End to end on a real worker: scans queued by the app, by beat, and by an edit."""

import pytest
from django.conf import settings
from django.db import transaction

from alignment.models import Flag, FlagState, Scan, ScanKind, ScanState, Snapshot
from alignment.services import scan_request
from core import events
from crm_alignment.celery import app as celery_app
from notifications.models import EventRecord
from projects.models import CRMProject
from tests.factories import CRMStrategyFactory, ProjectFactory, ProjectLinkFactory, UserFactory

from .conftest import Worker, require_services, wait_for

pytestmark = [
    pytest.mark.services,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def worker(tmp_path):
    require_services()
    started = Worker(tmp_path / "worker.log", env={"ALIGNMENT_RECHECK_DELAY_SECONDS": "1"})
    started.wait_ready()
    yield started
    started.stop()


def _done(kind=None):
    scans = Scan.objects.filter(state__in=[ScanState.DONE, ScanState.FAILED])
    if kind:
        scans = scans.filter(kind=kind)
    return scans.first()


def test_a_scan_requested_in_the_app_runs_in_the_worker_and_writes_flags(worker, sponsor):
    with transaction.atomic():
        loose = ProjectFactory(title="Loose on the worker", sponsor=sponsor)
    # The save above queued a live re-check; let it land so it cannot be confused with ours.
    wait_for(lambda: _done(ScanKind.PARTIAL), worker=worker, what="the live re-check")
    queued = scan_request(actor=sponsor)
    assert queued.state == ScanState.QUEUED
    wait_for(
        lambda: Scan.objects.filter(pk=queued.pk, state=ScanState.DONE).exists(),
        worker=worker,
        what=f"scan {queued.pk} to finish",
    )
    queued.refresh_from_db()
    assert queued.started_at and queued.finished_at and queued.error == ""
    # The snapshot is taken in a transaction of its own once the scan's flags have committed
    # (engine.take_snapshot): a moment after the scan reads as done.
    snapshot = wait_for(
        lambda: Snapshot.objects.filter(scan=queued).first(),
        worker=worker,
        what=f"scan {queued.pk}'s snapshot",
    )
    assert snapshot.projects_total == 1
    assert Flag.objects.filter(
        rule="project.untraced", subject_id=loose.pk, state=FlagState.OPEN
    ).exists()
    assert "alignment.tasks.run_full_scan" in worker.output()
    # Its follow-up task, queued when it committed, tells the sponsor of the flags it opened.
    wait_for(
        lambda: Scan.objects.filter(pk=queued.pk, told_at__isnull=False).exists(),
        worker=worker,
        what=f"the people of scan {queued.pk}'s flags to be told",
    )
    told = EventRecord.objects.get(
        type=events.FLAG_OPENED, subject_id=loose.pk, severity=events.CRITICAL
    )
    assert told.notifications.filter(user=sponsor).exists()
    assert "alignment.tasks.tell_scan" in worker.output()


def test_the_beat_schedule_task_runs_a_full_scan_on_the_worker(worker):
    ProjectFactory.create_batch(2, sponsor=None, manager=UserFactory(), department=None)
    Flag.objects.all().delete()
    Scan.objects.all().delete()
    # Exactly what beat sends every ALIGNMENT_SCAN_INTERVAL_SECONDS.
    entry = settings.CELERY_BEAT_SCHEDULE["alignment-full-scan"]
    celery_app.send_task(entry["task"])
    full = wait_for(lambda: _done(ScanKind.FULL), worker=worker, what="the periodic full scan")
    assert full.state == ScanState.DONE, full.error
    assert Flag.objects.filter(rule="project.no_sponsor", state=FlagState.OPEN).count() == 2


def test_an_edit_queues_a_recheck_that_opens_then_resolves_a_flag_on_the_worker(worker):
    manager, sponsor = UserFactory(), UserFactory()
    crm = CRMStrategyFactory()
    # Creating a strategy queues a full scan; let it land first, with its snapshot (taken in a
    # transaction of its own once the scan is done), before the scans are cleared.
    full = wait_for(lambda: _done(ScanKind.FULL), worker=worker, what="the strategy's full scan")
    wait_for(
        lambda: Snapshot.objects.filter(scan=full).exists(),
        worker=worker,
        what=f"scan {full.pk}'s snapshot",
    )
    Scan.objects.all().delete()
    with transaction.atomic():
        project = ProjectFactory(
            title="Edited live", manager=manager, sponsor=sponsor, department=None
        )
    flag = wait_for(
        lambda: Flag.objects.filter(rule="project.untraced", subject_id=project.pk).first(),
        worker=worker,
        what="the re-check to open project.untraced",
    )
    assert flag.state == FlagState.OPEN
    assert list(Scan.objects.values_list("kind", "state")) == [(ScanKind.PARTIAL, ScanState.DONE)]
    with transaction.atomic():
        ProjectLinkFactory(project=CRMProject.objects.get(pk=project.pk), crm_strategy=crm)
    wait_for(
        lambda: Flag.objects.filter(pk=flag.pk, state=FlagState.RESOLVED).exists(),
        worker=worker,
        what="the re-check to resolve project.untraced",
    )
    assert "alignment.tasks.recheck_projects" in worker.output()


def test_beat_itself_starts_full_scans_at_the_configured_interval(tmp_path):
    require_services()
    ProjectFactory(sponsor=None, department=None)
    Scan.objects.all().delete()
    with_beat = Worker(
        tmp_path / "beat.log",
        "--beat",
        "--schedule",
        str(tmp_path / "beat-schedule"),
        env={"ALIGNMENT_SCAN_INTERVAL_SECONDS": "2"},
    )
    try:
        with_beat.wait_ready()
        wait_for(
            lambda: Scan.objects.filter(kind=ScanKind.FULL, state=ScanState.DONE).count() >= 2,
            worker=with_beat,
            what="two periodic full scans",
        )
    finally:
        with_beat.stop()
    assert Scan.objects.filter(requested_by__isnull=False).count() == 0
    assert Flag.objects.filter(rule="project.no_sponsor", state=FlagState.OPEN).count() == 1
