"""Headline figures, flag visibility and the trend."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from alignment.models import Flag, Snapshot
from alignment.selectors import (
    HEADLINE_KEYS,
    alignment_summary,
    flags_visible_to,
    snapshots_trend,
)
from projects.models import FeatureStatus, ProjectStatus
from tests.factories import FeatureFactory, FeatureLinkFactory, ProjectFactory
from tests.rows import count_rows

from .conftest import healthy_project, scan

pytestmark = pytest.mark.django_db


def test_before_any_full_scan_the_summary_has_no_figures_and_computes_none(db):
    ProjectFactory()
    summary = alignment_summary()
    assert summary["figures_as_of"] is None
    assert {key: summary[key] for key in HEADLINE_KEYS} == dict.fromkeys(HEADLINE_KEYS)
    assert summary["open_flags_by_severity"] == {"info": 0, "warning": 0, "critical": 0}
    assert summary["open_flags_total"] == 0 and summary["last_scan"] is None


def test_an_empty_portfolio_scanned_has_zero_percentages(db):
    scan()
    summary = alignment_summary()
    assert summary["projects_total"] == 0 and summary["projects_traced_pct"] == 0
    assert summary["budget_traced_pct"] == summary["features_traced_pct"] == 0
    assert summary["budget_technology"] == summary["budget_capability"] == 0
    assert summary["figures_as_of"] == Snapshot.objects.get().taken_at


def test_the_summary_shows_the_figures_of_the_last_full_scan_until_the_next(db):
    ProjectFactory()
    scan()
    healthy_project()  # added after the scan: not in the figures yet

    assert alignment_summary()["projects_total"] == 1
    scan()
    summary = alignment_summary()
    assert (summary["projects_total"], summary["projects_traced"]) == (2, 1)
    assert summary["figures_as_of"] == Snapshot.objects.order_by("-taken_at").first().taken_at


def test_open_flags_in_the_summary_are_counted_live(db):
    project = ProjectFactory()
    scan()
    Flag.objects.filter(project=project).update(state="resolved")

    assert alignment_summary()["open_flags_total"] == 0


def test_the_summary_counts_live_projects_budget_and_features(db):
    traced = healthy_project(budget_technology=Decimal("300"), budget_people=Decimal("100"))
    FeatureLinkFactory(
        feature=FeatureFactory(project=traced), crm_strategy=traced.links.get().crm_strategy
    )
    FeatureFactory(project=traced)  # untraced feature
    FeatureFactory(project=traced, status=FeatureStatus.DROPPED)  # not counted
    ProjectFactory(budget_technology=Decimal("600"), budget_people=0)  # untraced
    ProjectFactory(status=ProjectStatus.CANCELLED, budget_technology=Decimal("5000"))
    scan()
    summary = alignment_summary()
    assert (summary["projects_total"], summary["projects_traced"]) == (2, 1)
    assert summary["projects_traced_pct"] == 50
    assert summary["budget_total"] == Decimal("1000")
    assert summary["budget_traced"] == Decimal("400")
    assert summary["budget_traced_pct"] == 40
    assert summary["budget_technology"] == Decimal("900")
    assert summary["budget_capability"] == Decimal("100")
    assert (summary["features_total"], summary["features_traced"]) == (2, 1)
    assert summary["features_traced_pct"] == 50
    assert summary["open_flags_by_rule"]["project.untraced"] == 1
    assert summary["open_flags_total"] == Flag.objects.count()
    assert summary["last_scan"]["state"] == "done"


def test_flags_are_visible_to_any_role_and_hidden_from_no_role(viewer, nobody):
    ProjectFactory()
    scan()
    assert flags_visible_to(viewer).count() == Flag.objects.count() > 0
    assert flags_visible_to(nobody).count() == 0


def test_listing_flags_costs_the_same_queries_for_2_and_50(viewer, django_assert_num_queries):
    def listed():
        return [(f.subject_label, f.project and f.project.title) for f in flags_visible_to(viewer)]

    ProjectFactory.create_batch(2, sponsor=None)
    scan()
    with django_assert_num_queries(2):  # the viewer's roles, then the flags with projects
        small = listed()
    viewer._crm_roles = None
    ProjectFactory.create_batch(48, sponsor=None)
    scan()
    with django_assert_num_queries(2):
        big = listed()
    assert len(big) > len(small)


def snapshot_at(when, projects_traced=0):
    from alignment.models import Scan, ScanState

    scan_row = Scan.objects.create(state=ScanState.DONE, finished_at=when)
    return Snapshot.objects.create(
        scan=scan_row, taken_at=when, projects_total=10, projects_traced=projects_traced
    )


def local(day, hour, minute=0):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def test_the_trend_has_one_point_per_day_the_days_last_scan_oldest_first(db):
    today = timezone.localdate()
    before, yesterday = today - datetime.timedelta(days=3), today - datetime.timedelta(days=1)
    snapshot_at(local(before, 9), 1)
    last_of_before = snapshot_at(local(before, 17, 30), 2)
    snapshot_at(local(before, 12), 3)  # recorded later, taken earlier: not the day's last
    # No scan the day after `before`, nor the day after that: those days are absent.
    only_of_yesterday = snapshot_at(local(yesterday, 8), 4)
    snapshot_at(local(today, 1), 5)
    last_of_today = snapshot_at(local(today, 1), 6)  # same time: the later record wins

    trend = snapshots_trend()

    assert [s.pk for s in trend] == [last_of_before.pk, only_of_yesterday.pk, last_of_today.pk]
    assert [s.day for s in trend] == [before, yesterday, today]


def test_the_trend_reads_one_row_per_day_from_the_database_not_every_scan(db):
    today = timezone.localdate()
    for days_ago in range(5):
        for hour in (6, 12, 18):
            snapshot_at(local(today - datetime.timedelta(days=days_ago), hour))

    with count_rows() as rows:
        trend = snapshots_trend(days=3)

    assert len(rows.statements) == 1
    assert rows.total == 3, rows.report()  # three days asked for, of fifteen scans
    assert [s.day for s in trend] == [today - datetime.timedelta(days=d) for d in (2, 1, 0)]
    assert [timezone.localtime(s.taken_at).hour for s in trend] == [18, 18, 18]


def test_the_trends_day_is_the_sites_local_day_not_utcs(db, settings):
    settings.TIME_ZONE = "America/New_York"
    with timezone.override("America/New_York"):
        day = datetime.date(2026, 7, 1)
        late_evening = snapshot_at(local(day, 22), 1)  # 02:00 UTC the next day
        trend = snapshots_trend()
    assert [(s.pk, s.day) for s in trend] == [(late_evening.pk, day)]


def test_the_last_full_scan_passes_over_scans_that_were_only_skipped(db):
    from alignment.models import SCAN_SKIPPED_PREFIX, Scan, ScanKind, ScanState

    done = Scan.objects.create(kind=ScanKind.FULL, state=ScanState.DONE)
    Scan.objects.create(
        kind=ScanKind.FULL, state=ScanState.FAILED, error=f"{SCAN_SKIPPED_PREFIX}lock busy"
    )
    assert alignment_summary()["last_scan"]["id"] == done.pk

    crashed = Scan.objects.create(kind=ScanKind.FULL, state=ScanState.FAILED, error="OOM")
    assert alignment_summary()["last_scan"]["id"] == crashed.pk
