"""What a webhook receives: the event as JSON (the Slack/Teams format adds a `text` sentence),
and the signature over the exact bytes sent."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.conf import settings

from core import events

SIGNATURE_HEADER = "X-CRM-Alignment-Signature"
TEST_EVENT = "webhook.test"


def absolute(path: str) -> str:
    """A link people can follow from outside the app: SITE_URL + the page's path."""
    if path.startswith(("http://", "https://")):
        return path
    return f"{settings.SITE_URL}{path}"


def payload_for(event: events.Event, fmt: str) -> dict[str, Any]:
    """The body (as data) a webhook of format `fmt` gets for `event`."""
    return build(
        event_type=event.type,
        key=event.key,
        occurred_at=event.occurred_at.isoformat(),
        summary=event.summary,
        severity=event.severity,
        subject={
            "kind": event.subject_kind,
            "id": event.subject_id,
            "title": event.subject_title,
            "url": absolute(event.path),
        },
        data=dict(event.data),
        fmt=fmt,
    )


def build(
    *,
    event_type: str,
    key: str,
    occurred_at: str,
    summary: str,
    severity: str,
    subject: dict[str, Any],
    data: dict[str, Any],
    fmt: str,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event": event_type,
        "key": key,
        "occurred_at": occurred_at,
        "summary": summary,
        "severity": severity,
        "subject": subject,
        "data": data,
    }
    if fmt == "slack":
        # One readable sentence with the link: Slack and Teams show it as the message.
        body = {"text": f"{summary} {subject['url']}".strip(), **body}
    return body


def encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes POSTed (and signed)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def signature(secret: str, body: bytes) -> str:
    """The header's value: sha256=<hex HMAC-SHA256 of the body with the secret>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
