"""Each event reaches each recipient once, on the channels their preferences say; mails are
never sent twice; a mail server that refuses or times out is retried with backoff and the
record says what happened."""

import datetime

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from core import events
from notifications import services, tasks
from notifications.models import (
    DeliveryKind,
    DeliveryState,
    EventRecord,
    MailDelivery,
    Notification,
    Preference,
)
from tests.factories import UserFactory

from .backends import FlakyBackend, RefusingBackend
from .conftest import event

pytestmark = pytest.mark.django_db


def emit(capture, *batch):
    with capture(execute=True):
        events.emit_many(batch)


def test_an_immediate_event_reaches_each_recipient_once_in_app_and_by_mail(
    alice, bob, django_capture_on_commit_callbacks
):
    emit(django_capture_on_commit_callbacks, event(recipients=[alice.pk, bob.pk, alice.pk]))

    assert EventRecord.objects.count() == 1
    assert sorted(Notification.objects.values_list("user__username", flat=True)) == [
        "alice",
        "bob",
    ]
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]
    message = mail.outbox[0]
    assert message.subject == "“Loyalty app” waits for your approval"
    assert "https://crm.example.com/projects/7/" in message.body
    html = message.alternatives[0][0]
    assert 'href="https://crm.example.com/projects/7/"' in html
    assert set(MailDelivery.objects.values_list("state", flat=True)) == {DeliveryState.SENT}


def test_the_same_event_emitted_again_records_and_mails_nothing_more(
    alice, django_capture_on_commit_callbacks
):
    emit(django_capture_on_commit_callbacks, event(recipients=[alice.pk]))
    emit(django_capture_on_commit_callbacks, event(recipients=[alice.pk]))
    assert EventRecord.objects.count() == 1
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1


def test_a_rerun_of_the_mail_task_sends_nothing_twice(alice, django_capture_on_commit_callbacks):
    emit(django_capture_on_commit_callbacks, event(recipients=[alice.pk]))
    record = EventRecord.objects.get()
    assert tasks.send_event_mails([record.pk]) == 0
    delivery = MailDelivery.objects.get()
    assert tasks.send_mail(delivery.pk) == "nothing"
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("channel", "in_app", "kind"),
    [
        ("immediate", True, DeliveryKind.IMMEDIATE),
        ("in_app", True, None),
        ("digest", True, DeliveryKind.DIGEST_ITEM),
        ("off", False, None),
    ],
)
def test_each_channel_of_the_preferences(
    alice, bob, channel, in_app, kind, django_capture_on_commit_callbacks
):
    services.set_preferences(user=alice, choices={events.APPROVAL_REQUESTED: channel})
    emit(django_capture_on_commit_callbacks, event(recipients=[alice.pk, bob.pk]))

    assert Notification.objects.filter(user=alice).exists() is in_app
    assert list(MailDelivery.objects.filter(user=alice).values_list("kind", flat=True)) == (
        [kind] if kind else []
    )
    mailed = [m.to[0] for m in mail.outbox]
    assert ("alice@example.com" in mailed) is (channel == "immediate")
    # Bob kept the default (mail now): his delivery is unaffected by Alice's choice.
    assert mailed.count("bob@example.com") == 1


def test_defaults_a_warning_flag_goes_to_the_digest_a_critical_one_is_mailed(
    alice, django_capture_on_commit_callbacks
):
    emit(
        django_capture_on_commit_callbacks,
        event(events.FLAG_OPENED, key="w", recipients=[alice.pk], severity=events.WARNING),
        event(events.FLAG_OPENED, key="c", recipients=[alice.pk], severity=events.CRITICAL),
        event(events.JOB_FINISHED, key="j", recipients=[alice.pk]),
    )
    kinds = dict(MailDelivery.objects.values_list("event__key", "kind"))
    assert kinds == {"w": DeliveryKind.DIGEST_ITEM, "c": DeliveryKind.IMMEDIATE}
    assert Notification.objects.filter(user=alice).count() == 3  # the job: in-app only
    assert [m.subject for m in mail.outbox] == ["[Critical] “Loyalty app” waits for your approval"]


def test_inactive_people_and_unknown_ids_get_nothing(alice, django_capture_on_commit_callbacks):
    gone = UserFactory(username="gone", is_active=False)
    emit(django_capture_on_commit_callbacks, event(recipients=[alice.pk, gone.pk, 999999]))
    assert list(Notification.objects.values_list("user__username", flat=True)) == ["alice"]
    assert len(mail.outbox) == 1


def test_an_event_of_a_rolled_back_change_never_happened(alice, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        events.emit(event(recipients=[alice.pk]))
        raise RuntimeError("the save failed")
    assert not EventRecord.objects.exists()
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_recording_a_batch_takes_the_same_queries_for_2_or_20_events(
    alice, bob, django_capture_on_commit_callbacks, django_assert_num_queries
):
    def batch(prefix, n):
        return [event(key=f"{prefix}{i}", recipients=[alice.pk, bob.pk]) for i in range(n)]

    with django_assert_num_queries(7):
        services.record(batch("a", 2))
    with django_assert_num_queries(7):
        services.record(batch("b", 20))
    assert Notification.objects.count() == 44


def test_a_refusing_mail_server_is_retried_then_recorded_as_failed(
    alice, settings, django_capture_on_commit_callbacks, caplog
):
    settings.EMAIL_BACKEND = "tests.notifications.backends.RefusingBackend"
    RefusingBackend.calls = 0
    emit(django_capture_on_commit_callbacks, event(recipients=[alice.pk]))

    delivery = MailDelivery.objects.get()
    # Eager tasks: the retries ran at once; a worker waits backoff_seconds between them.
    assert RefusingBackend.calls == 3
    assert delivery.state == DeliveryState.FAILED
    assert delivery.attempts == 3
    assert delivery.error.startswith("Gave up. Attempt 3")
    assert "SMTPRecipientsRefused" in delivery.error
    assert "failed for good" in caplog.text
    # The in-app notification is there regardless.
    assert Notification.objects.filter(user=alice).exists()


def test_a_mail_server_that_fails_once_is_retried_and_the_mail_sent_once(
    alice, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.notifications.backends.FlakyBackend"
    FlakyBackend.failures_left = 1
    emit(django_capture_on_commit_callbacks, event(recipients=[alice.pk]))

    delivery = MailDelivery.objects.get()
    assert delivery.state == DeliveryState.SENT
    assert delivery.attempts == 2
    assert len(mail.outbox) == 1


def test_a_timeout_puts_the_delivery_back_with_the_next_attempt_backed_off(alice, settings):
    settings.EMAIL_BACKEND = "tests.notifications.backends.TimingOutBackend"
    settings.NOTIFICATIONS_MAIL_BACKOFF_SECONDS = 60
    services.record([event(recipients=[alice.pk])])
    delivery = MailDelivery.objects.get()
    from notifications import mail as mailer

    before = timezone.now()
    assert mailer.deliver(delivery.pk) == mailer.RETRY
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING
    assert "TimeoutError: timed out" in delivery.error
    assert delivery.next_attempt_at >= before + datetime.timedelta(seconds=60)
    assert mailer.deliver(delivery.pk) == mailer.RETRY
    delivery.refresh_from_db()
    assert delivery.next_attempt_at >= before + datetime.timedelta(seconds=120)
    assert mailer.backoff_seconds(10) == settings.NOTIFICATIONS_MAIL_BACKOFF_MAX_SECONDS


def test_a_broker_outage_after_commit_loses_no_mail_the_sweep_sends_it(
    alice, settings, django_capture_on_commit_callbacks, monkeypatch
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.send_event_mails, "delay", broker_down)
    emit(django_capture_on_commit_callbacks, event(recipients=[alice.pk]))
    assert mail.outbox == []
    delivery = MailDelivery.objects.get()
    assert delivery.state == DeliveryState.PENDING

    # Within the grace period the sweep leaves it to its (possibly late) task.
    assert tasks.sweep_mail() == 0
    later = timezone.now() + datetime.timedelta(
        seconds=settings.NOTIFICATIONS_MAIL_SWEEP_GRACE_SECONDS + 1
    )
    assert tasks.sweep_mail(later.isoformat()) == 1
    assert len(mail.outbox) == 1
    assert tasks.sweep_mail(later.isoformat()) == 0
    assert len(mail.outbox) == 1


def test_the_sweep_does_not_resend_a_mail_whose_worker_died_while_sending(alice, settings):
    services.record([event(recipients=[alice.pk])])
    MailDelivery.objects.update(
        state=DeliveryState.SENDING,
        attempts=1,
        last_attempt_at=timezone.now() - datetime.timedelta(hours=1),
    )
    tasks.sweep_mail()
    delivery = MailDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED
    assert "may already have left" in delivery.error
    assert mail.outbox == []


def test_a_person_without_an_address_is_recorded_not_retried(
    django_capture_on_commit_callbacks,
):
    mute = UserFactory(username="mute", email="")
    emit(django_capture_on_commit_callbacks, event(recipients=[mute.pk]))
    delivery = MailDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED
    assert delivery.error == "The person has no e-mail address."


def test_preferences_are_validated(alice):
    with pytest.raises(ValueError, match="Unknown event type"):
        services.set_preferences(user=alice, choices={"nope": "off"})
    with pytest.raises(ValueError, match="not offered"):
        services.set_preferences(user=alice, choices={"digest.weekly": "immediate"})
    assert not Preference.objects.exists()
