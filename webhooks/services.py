"""Every write to webhooks: admins only. Saves are recorded in the history (auditlog, with the
secret left out); the failure bookkeeping of sending is not an edit (webhooks.sending)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core import events, permissions
from core.services import Actor, require

from . import addresses, payloads
from .models import Delivery, DeliveryStatus, Format, Webhook

ADMINS_ONLY = "Only administrators manage webhooks."
EDITABLE = ("name", "url", "secret", "events", "format", "is_active")


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def clean(data: dict[str, Any]) -> dict[str, Any]:
    """The fields checked together; ValidationError maps each field to its messages."""
    errors: dict[str, list[str]] = {}
    if "url" in data:
        try:
            addresses.validate_webhook_url(str(data["url"]).strip())
        except ValidationError as exc:
            errors["url"] = exc.messages
    if "events" in data:
        allowed = {key for key, t in events.CATALOGUE.items() if t.webhook}
        chosen = list(data["events"] or [])
        unknown = [key for key in chosen if key not in allowed]
        if unknown:
            errors["events"] = [
                f"Not an event webhooks may subscribe to: {', '.join(map(str, unknown))}."
            ]
        elif not chosen:
            errors["events"] = ["Choose at least one event."]
    if "format" in data and data["format"] not in Format.values:
        errors["format"] = [f"Choose one of: {', '.join(Format.values)}."]
    if "secret" in data and data["secret"] and len(str(data["secret"])) < 16:
        errors["secret"] = ["Use at least 16 characters (or leave it blank to get one)."]
    if errors:
        raise ValidationError(errors)
    return data


def create_webhook(*, actor: Actor, **data: Any) -> Webhook:
    require(permissions.is_admin(actor), ADMINS_ONLY)
    fields = {key: value for key, value in data.items() if key in EDITABLE}
    clean(fields)
    fields["url"] = str(fields["url"]).strip()
    if not fields.get("secret"):
        fields["secret"] = new_secret()
    fields["events"] = _ordered(fields.get("events") or [])
    return Webhook.objects.create(owner=actor, **fields)


def update_webhook(*, actor: Actor, webhook: Webhook, **data: Any) -> Webhook:
    require(permissions.is_admin(actor), ADMINS_ONLY)
    fields = {key: value for key, value in data.items() if key in EDITABLE}
    if fields.get("url") == webhook.url:
        fields.pop("url")  # unchanged: not resolved again on every rename
    clean(fields)
    if "secret" in fields and not fields["secret"]:
        fields.pop("secret")  # blank keeps the secret; rotate with a new value
    if "events" in fields:
        fields["events"] = _ordered(fields["events"])
    if "url" in fields:
        fields["url"] = str(fields["url"]).strip()
    for key, value in fields.items():
        setattr(webhook, key, value)
    webhook.save()
    return webhook


def delete_webhook(*, actor: Actor, webhook: Webhook) -> None:
    require(permissions.is_admin(actor), ADMINS_ONLY)
    webhook.delete()


def resume_webhook(*, actor: Actor, webhook: Webhook) -> int:
    """Unpause: the failure count starts again and the deliveries held meanwhile are sent.
    Returns how many were queued."""
    from .tasks import queue

    require(permissions.is_admin(actor), ADMINS_ONLY)
    now = timezone.now()
    with transaction.atomic():
        Webhook.objects.filter(pk=webhook.pk).update(paused_at=None, consecutive_failures=0)
        held = list(
            Delivery.objects.filter(webhook=webhook, status=DeliveryStatus.PENDING).values_list(
                "pk", flat=True
            )
        )
        Delivery.objects.filter(pk__in=held).update(next_attempt_at=now, claimed_until=None)
        transaction.on_commit(lambda: queue(held))
    webhook.refresh_from_db(fields=["paused_at", "consecutive_failures"])
    return len(held)


def send_test(*, actor: Actor, webhook: Webhook) -> Delivery:
    """A test delivery to this webhook alone (event `webhook.test`), sent like any other."""
    from .tasks import queue

    require(permissions.is_admin(actor), ADMINS_ONLY)
    now = timezone.now()
    key = f"{payloads.TEST_EVENT}:{webhook.pk}:{now.isoformat()}"
    payload = payloads.build(
        event_type=payloads.TEST_EVENT,
        key=key,
        occurred_at=now.isoformat(),
        summary=f"Test event for the webhook “{webhook.name}”, sent by {actor.get_username()}.",
        severity=events.INFO,
        subject={
            "kind": "webhook",
            "id": webhook.pk,
            "title": webhook.name,
            "url": payloads.absolute(f"/admin/webhooks/webhook/{webhook.pk}/change/"),
        },
        data={},
        fmt=webhook.format,
    )
    with transaction.atomic():
        delivery = Delivery.objects.create(
            webhook=webhook,
            event_type=payloads.TEST_EVENT,
            event_key=key,
            payload=payload,
            next_attempt_at=now,
        )
        transaction.on_commit(lambda: queue([delivery.pk]))
    return delivery


def _ordered(keys: Iterable[str]) -> list[str]:
    """The chosen events in the catalogue's order, each once."""
    chosen = set(keys)
    return [key for key in events.CATALOGUE if key in chosen]
