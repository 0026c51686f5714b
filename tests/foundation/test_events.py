"""core.events: the one place events are defined and handed to their receivers."""

import pytest

from core import events


def _event(**overrides):
    fields = {
        "type": events.PROJECT_APPROVED,
        "key": "project.approved:1:1",
        "subject_kind": "project",
        "subject_id": 1,
        "subject_title": "Loyalty relaunch",
        "path": "/projects/1/",
        "summary": "Loyalty relaunch was approved.",
        "recipients": (7,),
    }
    return events.Event(**{**fields, **overrides})


@pytest.mark.django_db  # the notifications app's receiver records them too
def test_emit_hands_the_events_to_receivers_at_once():
    seen = []

    def receiver(sender, events, **kwargs):
        seen.append(list(events))

    events.emitted.connect(receiver)
    try:
        first, second = _event(), _event(key="other")
        events.emit(first)
        events.emit_many([first, second])
        events.emit_many([])
    finally:
        events.emitted.disconnect(receiver)
    assert seen == [[first], [first, second]]


def test_unknown_type_and_severity_are_refused():
    with pytest.raises(ValueError, match="Unknown event type"):
        _event(type="project.exploded")
    with pytest.raises(ValueError, match="Unknown severity"):
        _event(severity="loud")


def test_a_warning_flag_goes_to_the_digest_and_a_critical_one_at_once():
    assert events.default_delivery(events.FLAG_OPENED, events.WARNING) == "digest"
    assert events.default_delivery(events.FLAG_OPENED, events.CRITICAL) == "immediate"
    assert events.default_delivery(events.WAIVER_EXPIRING, events.INFO) == "digest"
