"""The monthly board pack by mail: only to the executives and sponsors who opted in, once per
person and month (delivery records), HTML and text with the PDF attached and a one-click
unsubscribe link; a refusing SMTP server is recorded and retried, never a lost or double mail."""

import datetime
import re

import pytest
from django.core import mail as outbox

from reports import mail, tasks
from reports.models import BoardPackDelivery, BoardPackSubscription, DeliveryState
from tests.factories import GoalFactory, UserFactory

from .conftest import pdf_text

pytestmark = pytest.mark.django_db

MONTH = "2026-12-01"


@pytest.fixture
def people(db, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://crm.example.com"
    GoalFactory(title="Grow revenue in the north")

    def person(name, role, *, opted_in=True, **extra):
        user = UserFactory(username=name, roles=[role] if role else [], **extra)
        if opted_in is not None:
            BoardPackSubscription.objects.create(user=user, monthly=opted_in)
        return user

    return {
        "executive": person("exec-in", "executive"),
        "sponsor": person("sponsor-in", "sponsor"),
        "exec_out": person("exec-out", "executive", opted_in=False),
        "exec_never": person("exec-never", "executive", opted_in=None),
        # Opted in while a sponsor, a project manager now: not a reader of the pack.
        "pm": person("pm-in", "project_manager"),
        "viewer": person("viewer-in", "viewer"),
        "inactive": person("gone", "sponsor", is_active=False),
        "no_address": person("no-mail", "sponsor", email=""),
    }


def test_the_monthly_mail_reaches_only_opted_in_executives_and_sponsors_once(people):
    queued = tasks.mail_monthly_board_packs.delay(MONTH).get()

    assert queued == 2
    assert sorted(m.to[0] for m in outbox.outbox) == [
        "exec-in@example.com",
        "sponsor-in@example.com",
    ]
    # Run again (a rerun of the beat, a second worker): nobody gets it twice.
    assert tasks.mail_monthly_board_packs.delay(MONTH).get() == 0
    assert len(outbox.outbox) == 2
    assert set(BoardPackDelivery.objects.values_list("user__username", "month", "state")) == {
        ("exec-in", datetime.date(2026, 12, 1), DeliveryState.SENT),
        ("sponsor-in", datetime.date(2026, 12, 1), DeliveryState.SENT),
    }
    # Sending one person's again directly is refused by the delivery record as well.
    assert mail.send_monthly_pack(people["sponsor"].pk, datetime.date(2026, 12, 15)) == (
        "already sent"
    )
    assert len(outbox.outbox) == 2


def test_the_mail_has_text_html_the_pdf_and_a_one_click_unsubscribe_link(people):
    mail.send_monthly_pack(people["sponsor"].pk, datetime.date(2026, 12, 1))

    [message] = outbox.outbox
    assert message.subject == "Board pack for December 2026"
    [link] = re.findall(r"https://crm\.example\.com/reports/unsubscribe/\S+/", message.body)
    token = link.rsplit("/", 2)[1]
    assert mail.user_for_unsubscribe(token) == people["sponsor"]
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and f'href="{link}"' in html
    assert message.extra_headers["List-Unsubscribe"] == f"<{link}>"
    [(name, content, kind)] = message.attachments
    assert name == "board-pack-2026-12-01.pdf" and kind == "application/pdf"
    assert "Grow revenue in the north" in pdf_text(content)


def test_a_refusing_smtp_server_is_recorded_and_retried_then_sent_once(people, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    executive = people["executive"]

    with pytest.raises(mail.MailFailed):
        mail.send_monthly_pack(executive.pk, datetime.date(2026, 12, 1))

    delivery = BoardPackDelivery.objects.get(user=executive)
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 1
    assert "Connection" in delivery.error or "refused" in delivery.error.lower()
    # The last try records the failure without raising again.
    assert mail.send_monthly_pack(executive.pk, datetime.date(2026, 12, 1), last_try=True) == (
        "failed"
    )
    # The server is back: the next try sends it, once.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert mail.send_monthly_pack(executive.pk, datetime.date(2026, 12, 1)) == "sent"
    assert mail.send_monthly_pack(executive.pk, datetime.date(2026, 12, 1)) == "already sent"
    assert [m.to for m in outbox.outbox] == [["exec-in@example.com"]]
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT and delivery.attempts == 3


def test_someone_who_opted_out_meanwhile_gets_nothing(people):
    BoardPackSubscription.objects.filter(user=people["sponsor"]).update(monthly=False)

    assert mail.send_monthly_pack(people["sponsor"].pk, datetime.date(2026, 12, 1)) == "skipped"
    assert outbox.outbox == []
    assert not BoardPackDelivery.objects.exists()
