"""The bell, the list (own rows only, mark read, mark all read, open the subject), the
preferences page and the one-click unsubscribe of the mails."""

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core import events
from notifications import services
from notifications.models import DeliveryState, MailDelivery, Notification, Preference
from notifications.views import PAGE_SIZE

from .conftest import event

pytestmark = pytest.mark.django_db


def notify(user, n, prefix="e"):
    services.record([event(key=f"{prefix}{i}", recipients=[user.pk]) for i in range(n)])


def test_the_bell_shows_the_unread_count_at_the_cost_of_one_query(client, alice):
    client.force_login(alice)

    def home_queries():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("home"))
        assert response.status_code == 200
        return response, len(captured)

    notify(alice, 2, "a")
    response, two = home_queries()
    assert 'aria-label="Notifications: 2 unread"' in response.content.decode()
    notify(alice, 18, "b")
    response, twenty = home_queries()
    assert 'aria-label="Notifications: 20 unread"' in response.content.decode()
    assert two == twenty
    with CaptureQueriesContext(connection) as captured:
        client.get(reverse("home"))
    bell = [q["sql"] for q in captured if "notifications_notification" in q["sql"]]
    assert len(bell) == 1
    assert bell[0].startswith("SELECT COUNT(*)")


def test_the_list_shows_only_the_persons_own_notifications_paginated(client, alice, bob):
    notify(alice, PAGE_SIZE + 2, "a")
    notify(bob, 1, "b")
    client.force_login(bob)
    response = client.get(reverse("notifications:list"))
    assert response.status_code == 200
    assert list(response.context["page_obj"]) == list(Notification.objects.filter(user=bob))

    client.force_login(alice)
    first = client.get(reverse("notifications:list"))
    assert len(first.context["page_obj"]) == PAGE_SIZE
    second = client.get(reverse("notifications:list"), {"page": 2})
    assert len(second.context["page_obj"]) == 2


def test_the_list_costs_the_same_queries_for_2_or_20_rows(client, alice):
    client.force_login(alice)
    notify(alice, 2, "a")
    with CaptureQueriesContext(connection) as two:
        client.get(reverse("notifications:list"))
    notify(alice, 18, "b")
    with CaptureQueriesContext(connection) as twenty:
        client.get(reverse("notifications:list"))
    assert len(two) == len(twenty)


def test_opening_marks_read_and_goes_to_the_subject_someone_elses_is_404(client, alice, bob):
    notify(alice, 1)
    mine = Notification.objects.get(user=alice)
    client.force_login(bob)
    assert client.post(reverse("notifications:open", args=[mine.pk])).status_code == 404
    mine.refresh_from_db()
    assert mine.read_at is None

    client.force_login(alice)
    response = client.post(reverse("notifications:open", args=[mine.pk]))
    assert response.status_code == 302
    assert response["Location"] == "/projects/7/"
    mine.refresh_from_db()
    assert mine.read_at is not None
    # GET changes nothing (CSRF-protected POST only).
    assert client.get(reverse("notifications:open", args=[mine.pk])).status_code == 405


def test_mark_read_stays_on_the_list_and_mark_all_read_clears_the_bell(client, alice, bob):
    notify(alice, 3, "a")
    notify(bob, 1, "b")
    client.force_login(alice)
    one = Notification.objects.filter(user=alice).first()
    response = client.post(reverse("notifications:open", args=[one.pk]), {"next": "list"})
    assert response["Location"] == reverse("notifications:list")
    assert Notification.objects.filter(user=alice, read_at__isnull=True).count() == 2

    client.post(reverse("notifications:read_all"))
    assert not Notification.objects.filter(user=alice, read_at__isnull=True).exists()
    assert Notification.objects.filter(user=bob, read_at__isnull=True).count() == 1


def test_the_preferences_page_saves_each_choice_and_names_a_bad_one(client, alice):
    client.force_login(alice)
    page = client.get(reverse("notifications:preferences"))
    assert page.status_code == 200
    form = page.context["form"]
    data = {name: field.initial for name, field in form.fields.items()}
    data[events.FLAG_OPENED] = "off"
    data["digest.weekly"] = "off"
    response = client.post(reverse("notifications:preferences"), data)
    assert response.status_code == 302
    assert dict(Preference.objects.filter(user=alice).values_list("event_type", "channel")) == {
        events.FLAG_OPENED: "off",
        "digest.weekly": "off",
    }
    data[events.CHECK_IN_DUE] = "sometimes"
    bad = client.post(reverse("notifications:preferences"), data)
    assert bad.status_code == 400
    assert events.CHECK_IN_DUE in bad.context["form"].errors
    assert not Preference.objects.filter(event_type=events.CHECK_IN_DUE).exists()


def test_every_mail_carries_a_one_click_unsubscribe_that_works_signed_out(
    alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        events.emit(event(recipients=[alice.pk]))
    message = mail.outbox[0]
    header = message.extra_headers["List-Unsubscribe"]
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = header.strip("<>")
    assert url.startswith("https://crm.example.com/notifications/unsubscribe/")
    assert url in message.body
    path = url.removeprefix("https://crm.example.com")

    anonymous = Client(enforce_csrf_checks=True)
    page = anonymous.get(path)  # a link scanner's GET changes nothing
    assert page.status_code == 200
    assert not Preference.objects.exists()
    # RFC 8058: the mail client POSTs this body, without cookies or CSRF token.
    done = anonymous.post(path, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "no longer receive" in done.content.decode()
    assert Preference.objects.get(user=alice).channel == "in_app"

    # The next event of that type reaches Alice in-app only.
    with django_capture_on_commit_callbacks(execute=True):
        events.emit(event(key="next", recipients=[alice.pk]))
    assert len(mail.outbox) == 1
    assert Notification.objects.filter(user=alice).count() == 2


def test_a_forged_or_altered_unsubscribe_token_is_refused(client, alice):
    token = services.unsubscribe_token(alice.pk, events.FLAG_OPENED)
    for bad in (token[:-2] + "xx", "nonsense"):
        response = client.post(reverse("notifications:unsubscribe", args=[bad]))
        assert response.status_code == 400
    assert not Preference.objects.exists()


def test_unsubscribing_from_the_digest_stops_the_unsent_one(alice):
    from notifications.models import DeliveryKind

    delivery = MailDelivery.objects.create(user=alice, kind=DeliveryKind.DIGEST, week="2026-11-23")
    services.unsubscribe(token=services.unsubscribe_token(alice.pk, "digest.weekly"))
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED
    assert delivery.error == "Unsubscribed before it was sent."
    assert Preference.objects.get(user=alice, event_type="digest.weekly").channel == "off"
