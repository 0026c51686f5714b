"""Flags open, stay, resolve, and respect a sponsor's decision; scans are idempotent."""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from alignment import engine
from alignment.models import (
    Flag,
    FlagState,
    RuleSetting,
    Scan,
    ScanState,
    Severity,
    Snapshot,
)
from alignment.services import flag_acknowledge, flag_waive
from projects.models import ProjectStatus
from tests.factories import (
    FeatureFactory,
    FeatureLinkFactory,
    ProjectFactory,
    ProjectLinkFactory,
)

from .conftest import flagged, scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def loose(sponsor):
    return ProjectFactory(title="Loose", sponsor=sponsor, status=ProjectStatus.PROPOSED)


def _untraced_flag():
    return Flag.objects.get(rule="project.untraced")


def test_a_flag_opens_then_resolves_when_fixed_and_stays_as_history(loose):
    scan()
    flag = _untraced_flag()
    assert flag.state == FlagState.OPEN and flag.resolved_at is None
    ProjectLinkFactory(project=loose)
    scan()
    flag.refresh_from_db()
    assert flag.state == FlagState.RESOLVED and flag.resolved_at is not None


def test_a_condition_that_returns_opens_a_new_flag_beside_the_history(loose):
    scan()
    link = ProjectLinkFactory(project=loose)
    scan()
    link.delete()
    scan()
    states = sorted(Flag.objects.filter(rule="project.untraced").values_list("state", flat=True))
    assert states == ["open", "resolved"]


def _stored_flags():
    return {
        f.pk: (f.state, f.severity, f.message, f.subject_label, f.first_seen, f.last_seen)
        for f in Flag.objects.all()
    }


def test_a_second_scan_rewrites_no_flag(loose):
    first = scan()
    before = _stored_flags()
    second = scan()
    assert before and _stored_flags() == before  # last_seen included: nothing was rewritten
    assert first.opened == len(before)
    assert (second.opened, second.resolved) == (0, 0)


def test_a_scan_rewrites_only_the_flags_whose_severity_message_or_label_changed(loose):
    other = ProjectFactory(title="Other", sponsor=None)
    scan()
    before = _stored_flags()
    RuleSetting.objects.filter(code="project.no_sponsor").update(severity=Severity.INFO)
    other.title = "Other, renamed"
    other.save()
    scan()
    after = _stored_flags()
    changed = {pk for pk in before if before[pk] != after[pk]}
    expected = set(
        Flag.objects.filter(Q(rule="project.no_sponsor") | Q(subject_id=other.pk)).values_list(
            "pk", flat=True
        )
    )
    assert changed == expected
    renamed = Flag.objects.get(rule="project.untraced", subject_id=other.pk)
    assert renamed.subject_label == "Other, renamed"
    assert renamed.last_seen > before[renamed.pk][5]
    assert set(
        Flag.objects.filter(rule="project.no_sponsor").values_list("severity", flat=True)
    ) == {Severity.INFO}


def test_an_acknowledged_flag_stays_acknowledged_while_the_condition_holds(loose, sponsor):
    scan()
    flag_acknowledge(flag_id=_untraced_flag().pk, actor=sponsor)
    scan()
    flag = _untraced_flag()
    assert flag.state == FlagState.ACKNOWLEDGED and flag.acknowledged_by == sponsor


def test_an_acknowledged_flag_resolves_when_the_condition_clears(loose, sponsor):
    scan()
    flag = flag_acknowledge(flag_id=_untraced_flag().pk, actor=sponsor)
    ProjectLinkFactory(project=loose)
    scan()
    flag.refresh_from_db()
    assert flag.state == FlagState.RESOLVED


def test_a_waived_flag_stays_waived_until_expiry_then_reopens(loose, sponsor):
    scan()
    expires = timezone.now() + datetime.timedelta(days=3)
    flag_waive(flag_id=_untraced_flag().pk, actor=sponsor, reason="Pilot", expires_at=expires)
    scan()
    assert _untraced_flag().state == FlagState.WAIVED
    Flag.objects.filter(rule="project.untraced").update(
        waiver_expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    result = scan()
    flag = _untraced_flag()
    assert flag.state == FlagState.OPEN
    assert flag.waiver_reason == "Pilot"  # the old decision stays readable
    assert result.per_rule["project.untraced"]["opened"] == 1


def test_a_waived_flag_whose_condition_cleared_resolves(loose, sponsor):
    scan()
    flag_waive(
        flag_id=_untraced_flag().pk,
        actor=sponsor,
        reason="Pilot",
        expires_at=timezone.now() + datetime.timedelta(days=3),
    )
    ProjectLinkFactory(project=loose)
    scan()
    assert Flag.objects.get(rule="project.untraced").state == FlagState.RESOLVED


def test_a_retitled_subject_gets_its_new_label(loose):
    scan()
    loose.title = "Renamed"
    loose.save()
    scan()
    assert flagged("project.untraced") == {"Renamed"}


def test_flags_of_a_deleted_project_and_its_features_resolve(loose):
    feature = FeatureFactory(project=loose, title="Orphan")
    scan()
    subjects = Q(subject_type="project", subject_id=loose.pk) | Q(
        subject_type="feature", subject_id=feature.pk
    )
    opened = set(Flag.objects.filter(subjects).values_list("subject_type", "rule"))
    assert {("project", "project.untraced"), ("feature", "feature.untraced")} <= opened
    project_id = loose.pk
    loose.delete()
    engine.scan_projects([project_id])
    after = list(Flag.objects.filter(subjects).values_list("state", "resolved_at"))
    assert len(after) == len(opened)
    assert all(state == FlagState.RESOLVED and at is not None for state, at in after), after


@pytest.mark.parametrize("edit", ["fixed", "deleted"])
def test_a_subject_fixed_or_deleted_while_a_scan_runs_keeps_its_label_until_the_next_scan(
    loose, monkeypatch, edit
):
    scan()
    refresh = engine._refresh

    def users_edit_commits_between_resolve_and_refresh(*args):
        # On PostgreSQL (READ COMMITTED) the refresh statement sees a commit made after the
        # resolve statement; running the edit here reproduces that interleaving.
        if edit == "fixed":
            ProjectLinkFactory(project=loose)
        else:
            loose.delete()
        return refresh(*args)

    monkeypatch.setattr(engine, "_refresh", users_edit_commits_between_resolve_and_refresh)
    racing = scan()
    assert racing.state == ScanState.DONE, racing.error
    flag = _untraced_flag()
    assert (flag.state, flag.subject_label) == (FlagState.OPEN, "Loose")
    monkeypatch.setattr(engine, "_refresh", refresh)
    scan()  # the re-check the edit queued
    flag.refresh_from_db()
    assert flag.state == FlagState.RESOLVED and flag.subject_label == "Loose"


def test_the_database_allows_one_unresolved_flag_per_rule_and_subject(loose):
    scan()
    flag = _untraced_flag()
    duplicate = Flag(
        rule=flag.rule,
        severity=flag.severity,
        subject_type=flag.subject_type,
        subject_id=flag.subject_id,
        subject_label=flag.subject_label,
        message="x",
        first_seen=timezone.now(),
        last_seen=timezone.now(),
        state=FlagState.ACKNOWLEDGED,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    duplicate.state = FlagState.RESOLVED
    duplicate.save()  # resolved ones are history and may repeat


def test_a_full_scan_records_its_state_counts_and_a_snapshot(loose):
    result = scan()
    assert result.state == ScanState.DONE
    assert result.started_at <= result.finished_at
    assert result.opened == Flag.objects.count()
    assert result.per_rule["project.untraced"] == {"open": 1, "opened": 1, "resolved": 0}
    snapshot = Snapshot.objects.get(scan=result)
    assert (snapshot.projects_total, snapshot.projects_traced) == (1, 0)
    assert snapshot.open_by_rule["project.untraced"] == 1
    assert sum(snapshot.open_by_severity.values()) == Flag.objects.count()


def test_a_re_check_covers_only_the_given_projects_and_takes_no_snapshot(db):
    one = ProjectFactory(title="One")
    ProjectFactory(title="Two")
    recheck = engine.scan_projects([one.pk])
    assert recheck.kind == "partial" and recheck.state == ScanState.DONE
    assert flagged("project.untraced") == {"One"}
    assert not Snapshot.objects.exists()


def test_a_queued_scan_is_run_once_and_a_finished_one_is_not_rerun(loose):
    queued = Scan.objects.create(state=ScanState.QUEUED)
    assert engine.scan_full(scan_id=queued.pk).state == ScanState.DONE
    assert engine.scan_full(scan_id=queued.pk) is None
    assert Snapshot.objects.filter(scan=queued).count() == 1


def test_a_scan_left_running_by_a_dead_worker_is_marked_failed_by_the_next_full_scan(db):
    stale = Scan.objects.create(
        state=ScanState.RUNNING, started_at=timezone.now() - datetime.timedelta(hours=2)
    )
    scan()
    stale.refresh_from_db()
    assert stale.state == ScanState.FAILED
    assert stale.error == engine.stale_running_message()


def test_a_failing_scan_is_recorded_as_failed_and_rolls_back(loose, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    # The last step inside the scan's transaction: everything before it is rolled back.
    monkeypatch.setattr(engine, "_finish", explode)
    with pytest.raises(RuntimeError):
        scan()
    failed = Scan.objects.get()
    assert failed.state == ScanState.FAILED and "disk on fire" in failed.error
    assert not Flag.objects.exists()  # the flag writes were rolled back with it
    assert not Snapshot.objects.exists()


def test_a_failing_snapshot_keeps_the_scan_and_its_flags(loose, monkeypatch):
    """The snapshot is taken once the scan has committed, in a transaction of its own: its
    failure loses no flag and leaves no scan unfinished; taking it again records it once."""

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    with monkeypatch.context() as patched:
        patched.setattr(engine, "_take_snapshot", explode)
        with pytest.raises(RuntimeError):
            scan()
    done = Scan.objects.get()
    assert done.state == ScanState.DONE and done.error == ""
    assert flagged("project.untraced") == {"Loose"}
    assert not Snapshot.objects.exists()
    snapshot = engine.take_snapshot(done.pk)
    assert snapshot is not None and snapshot.scan_id == done.pk
    assert (snapshot.projects_total, snapshot.projects_traced) == (1, 0)
    assert engine.take_snapshot(done.pk) == snapshot
    assert Snapshot.objects.count() == 1


def test_a_snapshot_is_only_taken_of_a_finished_full_scan(loose):
    recheck = engine.scan_projects([loose.pk])
    queued = Scan.objects.create(state=ScanState.QUEUED)
    assert engine.take_snapshot(recheck.pk) is None
    assert engine.take_snapshot(queued.pk) is None
    assert engine.take_snapshot(queued.pk + 1000) is None
    assert not Snapshot.objects.exists()


def test_the_snapshot_counts_what_the_scan_flagged_and_walks_when_a_rule_is_off(loose):
    """It counts the untraced features and projects from the flags the scan left; with their
    rules switched off it walks the portfolio instead, to the same figures."""
    traced = ProjectFactory(title="Traced", status=ProjectStatus.ACTIVE)
    link = ProjectLinkFactory(project=traced)
    FeatureLinkFactory(feature=FeatureFactory(project=traced), crm_strategy=link.crm_strategy)
    FeatureFactory(project=traced)
    FeatureFactory(project=loose)
    from_flags = Snapshot.objects.get(scan=scan())
    RuleSetting.objects.filter(
        code__in=["feature.untraced", "project.untraced", "project.broken_chain"]
    ).update(enabled=False)
    walked = Snapshot.objects.get(scan=scan())
    fields = [
        "projects_total",
        "projects_traced",
        "features_total",
        "features_traced",
        "budget_total",
        "budget_traced",
    ]
    assert [getattr(from_flags, f) for f in fields] == [getattr(walked, f) for f in fields]
    assert (from_flags.projects_traced, from_flags.features_total) == (1, 3)
    assert from_flags.features_traced == 1
    assert from_flags.figures["untraced_features"] == walked.figures["untraced_features"]

    # Projects under each node and how many trace (the third figure counts open flags, which
    # switching the rules off resolved).
    def traced_under(snapshot):
        health = snapshot.figures["map_health"]
        return {kind: {n: f[:2] for n, f in nodes.items()} for kind, nodes in health.items()}

    assert traced_under(from_flags) == traced_under(walked)
    assert traced_under(from_flags)["crm_strategy"] == {str(link.crm_strategy_id): [1, 1]}
