"""Every emitted event is recorded here, in the emitter's transaction (core.events)."""

from __future__ import annotations

from typing import Any

from core import events

from . import services


def _on_emitted(sender: Any, events: list[events.Event], **kwargs: Any) -> None:
    services.record(events)


events.emitted.connect(_on_emitted, dispatch_uid="notifications-record")
