"""A sponsor's decisions on flags, and scan requests: who may, and what bad input gets."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from alignment.models import Flag, FlagState, Scan, ScanState
from alignment.services import ScanUnavailable, flag_acknowledge, flag_waive, scan_request
from tests.factories import ProjectFactory, UserFactory

from .conftest import scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def flag(sponsor):
    ProjectFactory(title="Loose", sponsor=sponsor)
    scan()
    return Flag.objects.get(rule="project.untraced")


def _later(days=7):
    return timezone.now() + datetime.timedelta(days=days)


def test_the_projects_sponsor_acknowledges_a_flag(flag, sponsor):
    flag = flag_acknowledge(flag_id=flag.pk, actor=sponsor)
    assert flag.state == FlagState.ACKNOWLEDGED
    assert flag.acknowledged_by == sponsor and flag.acknowledged_at is not None


def test_an_executive_may_waive_any_flag(flag, executive):
    flag = flag_waive(flag_id=flag.pk, actor=executive, reason="Pilot only", expires_at=_later())
    assert flag.state == FlagState.WAIVED
    assert (flag.waived_by, flag.waiver_reason) == (executive, "Pilot only")


@pytest.mark.parametrize("persona", ["pm", "viewer", "other_sponsor"])
def test_others_may_not_decide_on_a_flag(flag, persona, request):
    if persona == "other_sponsor":
        from tests.factories import UserFactory

        user = UserFactory(username="sponsor2", roles=["sponsor"])
    else:
        user = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        flag_acknowledge(flag_id=flag.pk, actor=user)
    with pytest.raises(PermissionDenied):
        flag_waive(flag_id=flag.pk, actor=user, reason="x", expires_at=_later())
    flag.refresh_from_db()
    assert flag.state == FlagState.OPEN


def test_a_user_without_a_role_is_told_the_flag_does_not_exist(flag, nobody):
    with pytest.raises(Http404):
        flag_acknowledge(flag_id=flag.pk, actor=nobody)
    with pytest.raises(Http404):
        flag_waive(flag_id=flag.pk, actor=nobody, reason="x", expires_at=_later())
    flag.refresh_from_db()
    assert flag.state == FlagState.OPEN


def test_a_flag_id_that_does_not_exist_is_a_404_not_a_server_error(executive):
    for flag_id in (424242, "abc", None):
        with pytest.raises(Http404):
            flag_acknowledge(flag_id=flag_id, actor=executive)


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_waiver_needs_a_reason(flag, sponsor, reason):
    with pytest.raises(ValidationError) as caught:
        flag_waive(flag_id=flag.pk, actor=sponsor, reason=reason, expires_at=_later())
    assert "reason" in caught.value.message_dict


@pytest.mark.parametrize("expires_at", [None, "past", "now"])
def test_a_waiver_needs_an_expiry_in_the_future(flag, sponsor, expires_at):
    when = {
        None: None,
        "past": timezone.now() - datetime.timedelta(days=1),
        "now": timezone.now(),
    }[expires_at]
    with pytest.raises(ValidationError) as caught:
        flag_waive(flag_id=flag.pk, actor=sponsor, reason="Pilot", expires_at=when)
    assert "expires_at" in caught.value.message_dict
    flag.refresh_from_db()
    assert flag.state == FlagState.OPEN


def test_an_over_long_reason_is_refused(flag, sponsor):
    with pytest.raises(ValidationError) as caught:
        flag_waive(flag_id=flag.pk, actor=sponsor, reason="x" * 2001, expires_at=_later())
    assert "reason" in caught.value.message_dict


def test_a_naive_expiry_is_read_in_the_local_time_zone(flag, sponsor):
    naive = (timezone.localtime() + datetime.timedelta(days=2)).replace(tzinfo=None)
    flag = flag_waive(flag_id=flag.pk, actor=sponsor, reason="Pilot", expires_at=naive)
    assert timezone.is_aware(flag.waiver_expires_at)


def test_only_an_open_flag_can_be_acknowledged(flag, sponsor):
    flag_acknowledge(flag_id=flag.pk, actor=sponsor)
    with pytest.raises(ValidationError):
        flag_acknowledge(flag_id=flag.pk, actor=sponsor)


def test_a_resolved_flag_cannot_be_waived_or_acknowledged(flag, sponsor):
    Flag.objects.filter(pk=flag.pk).update(state=FlagState.RESOLVED, resolved_at=timezone.now())
    flag.refresh_from_db()
    with pytest.raises(ValidationError):
        flag_waive(flag_id=flag.pk, actor=sponsor, reason="Pilot", expires_at=_later())
    with pytest.raises(ValidationError):
        flag_acknowledge(flag_id=flag.pk, actor=sponsor)


def test_a_decision_on_a_flag_a_scan_resolved_after_the_page_loaded_is_refused(flag, sponsor):
    # The page showed the flag open; a scan resolves it before the click arrives. The service
    # reads the stored state, not the page's.
    Flag.objects.filter(pk=flag.pk).update(state=FlagState.RESOLVED, resolved_at=timezone.now())
    with pytest.raises(ValidationError) as acknowledged:
        flag_acknowledge(flag_id=flag.pk, actor=sponsor)
    with pytest.raises(ValidationError) as waived:
        flag_waive(flag_id=flag.pk, actor=sponsor, reason="Pilot", expires_at=_later())
    assert "Resolved" in acknowledged.value.messages[0]
    assert "resolved" in waived.value.messages[0]
    assert Flag.objects.get(pk=flag.pk).state == FlagState.RESOLVED


def test_an_acknowledged_flag_can_still_be_waived(flag, sponsor):
    flag_acknowledge(flag_id=flag.pk, actor=sponsor)
    flag = flag_waive(flag_id=flag.pk, actor=sponsor, reason="Accepted", expires_at=_later())
    assert flag.state == FlagState.WAIVED


def test_a_sponsor_requests_a_scan_that_runs_once_committed(
    sponsor, django_capture_on_commit_callbacks
):
    ProjectFactory(title="Loose")
    with django_capture_on_commit_callbacks(execute=True):
        queued = scan_request(actor=sponsor)
    assert queued.state == ScanState.QUEUED and queued.requested_by == sponsor
    queued.refresh_from_db()
    assert queued.state == ScanState.DONE
    assert Flag.objects.filter(rule="project.untraced").exists()


@pytest.mark.parametrize("persona", ["pm", "viewer", "nobody"])
def test_only_sponsors_executives_and_admins_may_request_a_scan(persona, request):
    with pytest.raises(PermissionDenied):
        scan_request(actor=request.getfixturevalue(persona))
    assert not Scan.objects.exists()


def test_an_admin_may_request_a_scan(admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        scan_request(actor=admin_user)
    assert len(callbacks) == 1


@pytest.fixture
def broker_down(monkeypatch):
    from kombu.exceptions import OperationalError

    from alignment import tasks

    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.run_full_scan, "apply_async", refuse)


def test_a_scan_the_queue_refuses_is_marked_failed_with_the_reason_and_logged(
    sponsor, broker_down, django_capture_on_commit_callbacks, caplog
):
    with (
        pytest.raises(ScanUnavailable) as refused,
        django_capture_on_commit_callbacks(execute=True),
    ):
        scan_request(actor=sponsor)
    requested = refused.value.scan
    assert requested.state == ScanState.FAILED
    assert "task queue is unreachable" in str(refused.value)
    stored = Scan.objects.get(pk=requested.pk)
    assert stored.state == ScanState.FAILED and stored.finished_at is not None
    assert "could not be started" in stored.error and "Connection refused" in stored.error
    assert stored.error == requested.error
    assert f"Could not queue alignment scan {requested.pk}" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_scan_requested_while_the_queue_is_down_answers_503_and_the_page_says_so(
    broker_down, client
):
    client.force_login(UserFactory(username="sponsor", roles=["sponsor"]))
    api = client.post("/api/alignment/scan/")
    assert api.status_code == 503
    assert "task queue is unreachable" in api.json()["detail"]
    page = client.post(reverse("alignment:scan"), follow=True)
    assert page.status_code == 200
    assert "task queue is unreachable" in page.content.decode()
    assert list(Scan.objects.values_list("state", flat=True)) == [ScanState.FAILED] * 2
