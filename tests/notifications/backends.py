"""Mail backends for the failure paths: a server that refuses every message, one that times
out, and one that refuses the first N messages and then delivers through the locmem backend
(so `mail.outbox` shows what finally left)."""

import smtplib

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


class RefusingBackend(BaseEmailBackend):
    calls = 0

    def send_messages(self, messages):
        type(self).calls += 1
        raise smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"Mailbox unavailable")})


class TimingOutBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise TimeoutError("timed out")


class FlakyBackend(LocmemBackend):
    failures_left = 0

    def send_messages(self, messages):
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)
