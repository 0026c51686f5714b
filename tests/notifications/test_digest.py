"""The weekly digest of a sponsor in the demo: their open flags by project, the approvals
waiting for them, waivers expiring, stalled projects, the alignment figures with their change
since last week, and the events they chose to read there; HTML and plain text, once a week.
And the 90-day clean-up."""

import datetime
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.db.models import Count, Q
from django.utils import timezone

from alignment.models import Flag, Snapshot
from alignment.selectors import OPEN_STATES
from crm_alignment.demo import P_MARKET_FUND
from notifications import services, tasks
from notifications.models import (
    DeliveryKind,
    DeliveryState,
    EventRecord,
    MailDelivery,
    Notification,
)
from projects.models import APPROVABLE_PROJECT_STATUSES, CRMProject

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings):
    settings.DEBUG = True  # load_demo is a development command
    call_command("load_demo", stdout=StringIO())
    call_command("scan_alignment", stdout=StringIO())
    # A week ago the portfolio was one traced project worse: the snapshot the digest compares.
    latest = Snapshot.objects.latest("taken_at")
    older = Snapshot.objects.get(pk=latest.pk)
    call_command("scan_alignment", stdout=StringIO())
    Snapshot.objects.filter(pk=older.pk).update(
        taken_at=latest.taken_at - datetime.timedelta(days=8),
        projects_traced=latest.projects_traced - 1,
    )
    return get_user_model().objects.get(username="sponsor")


def percent(part, whole):
    return round(part * 100 / whole, 1)


def test_the_digest_of_a_sponsor_in_the_demo(demo):
    sponsor = demo
    waiting_lines = MailDelivery.objects.filter(
        user=sponsor, kind=DeliveryKind.DIGEST_ITEM, state=DeliveryState.PENDING
    )
    lines = list(waiting_lines.values_list("event__summary", flat=True))
    assert lines, "the demo scan's warnings wait for the sponsor's digest"
    today = timezone.localdate()

    tasks.send_weekly_digests(today.isoformat())

    to_sponsor = [m for m in mail.outbox if m.to == ["sponsor@example.com"]]
    assert len(to_sponsor) == 1
    message = to_sponsor[0]
    body, html = message.body, message.alternatives[0][0]
    assert message.alternatives[0][1] == "text/html"
    assert message.subject.startswith("Your CRM alignment digest, week of")

    # Open flags by project: every live project the sponsor sponsors (or manages) with open
    # flags, with its counts per severity.
    mine = CRMProject.objects.filter(Q(sponsor=sponsor) | Q(manager=sponsor))
    by_project = (
        Flag.objects.filter(project__in=mine, state__in=OPEN_STATES)
        .values("project__title")
        .annotate(
            critical=Count("pk", filter=Q(severity="critical")),
            warning=Count("pk", filter=Q(severity="warning")),
        )
    )
    assert by_project
    for row in by_project:
        line = f"- {row['project__title']}: {row['critical']} critical, {row['warning']} warning"
        assert line in body
        assert row["project__title"] in html
    # Approvals waiting: the proposed project the sponsor must decide.
    waiting = CRMProject.objects.filter(sponsor=sponsor, status__in=APPROVABLE_PROJECT_STATUSES)
    assert P_MARKET_FUND in set(waiting.values_list("title", flat=True))
    assert f"APPROVALS WAITING FOR YOU ({waiting.count()})" in body
    assert P_MARKET_FUND in body and P_MARKET_FUND in html
    # The figures, and their change since the snapshot of a week ago.
    latest = Snapshot.objects.latest("taken_at")
    now_pct = percent(latest.projects_traced, latest.projects_total)
    change = round(now_pct - percent(latest.projects_traced - 1, latest.projects_total), 1)
    assert f"- Projects traced to a goal (%): {now_pct} (+{change} since last week)" in body
    # The events the sponsor reads in the digest, then carried by it.
    for summary in lines:
        assert summary in body
    assert not waiting_lines.exists()
    digest = MailDelivery.objects.get(user=sponsor, kind=DeliveryKind.DIGEST)
    assert digest.state == DeliveryState.SENT
    assert digest.items.count() == len(lines)
    # The unsubscribe link of the digest.
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.extra_headers["List-Unsubscribe"].strip("<>") in body

    # A second run in the same week sends nothing more.
    tasks.send_weekly_digests(today.isoformat())
    assert len([m for m in mail.outbox if m.to == ["sponsor@example.com"]]) == 1


def test_no_digest_for_viewers_or_whoever_turned_it_off(demo):
    sponsor = demo
    services.set_preferences(user=sponsor, choices={"digest.weekly": "off"})
    tasks.send_weekly_digests()
    recipients = {m.to[0] for m in mail.outbox}
    assert "sponsor@example.com" not in recipients
    assert "executive@example.com" in recipients
    viewers = (
        get_user_model()
        .objects.filter(groups__name="viewer")
        .exclude(groups__name__in=["executive", "sponsor", "project_manager"])
    )
    assert not recipients & set(viewers.values_list("email", flat=True))


def test_notifications_older_than_90_days_are_deleted_with_what_nobody_holds(alice, bob):
    from .conftest import event

    services.record(
        [event(key="old", recipients=[alice.pk]), event(key="new", recipients=[bob.pk])]
    )
    old = EventRecord.objects.get(key="old")
    long_ago = timezone.now() - datetime.timedelta(days=91)
    Notification.objects.filter(event=old).update(created_at=long_ago)
    MailDelivery.objects.filter(event=old).update(created_at=long_ago, state=DeliveryState.SENT)
    EventRecord.objects.filter(pk=old.pk).update(created_at=long_ago)

    assert tasks.purge_old_notifications() == 1
    assert list(Notification.objects.values_list("user__username", flat=True)) == ["bob"]
    assert list(EventRecord.objects.values_list("key", flat=True)) == ["new"]
    assert MailDelivery.objects.filter(event__key="new").exists()
