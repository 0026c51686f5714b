"""Deciding several flags at once (alignment.services.flags_decide_in_bulk): per flag, each
through the single decision's service — its permission check, lock and state guard — so one
refusal does not undo the others; bad input decides nothing."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from alignment.models import Flag, FlagState
from alignment.services import BULK_MAX, flags_decide_in_bulk
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def make_flag(project, rule="project.no_roadmap", **fields):
    now = timezone.now()
    values = {
        "rule": rule,
        "severity": "warning",
        "subject_type": "project",
        "subject_id": project.pk,
        "subject_label": project.title,
        "project": project,
        "message": "Plan the next releases.",
        "first_seen": now,
        "last_seen": now,
    }
    return Flag.objects.create(**(values | fields))


def in_a_month():
    return timezone.now() + datetime.timedelta(days=30)


def outcome_of(outcomes):
    return {o.flag_id: (o.status, o.detail) for o in outcomes}


def states(*flags):
    return [Flag.objects.get(pk=f.pk).state for f in flags]


def test_a_sponsor_acknowledges_two_of_their_flags_at_once(sponsor):
    first, second = (make_flag(ProjectFactory(sponsor=sponsor)) for _ in range(2))

    outcomes = flags_decide_in_bulk(
        actor=sponsor, action="acknowledge", flag_ids=[first.pk, second.pk]
    )

    assert [(o.flag_id, o.status) for o in outcomes] == [(first.pk, "done"), (second.pk, "done")]
    assert states(first, second) == [FlagState.ACKNOWLEDGED] * 2
    assert Flag.objects.get(pk=first.pk).acknowledged_by == sponsor


def test_a_waiver_gives_every_flag_the_same_reason_and_expiry(sponsor):
    flags = [make_flag(ProjectFactory(sponsor=sponsor)) for _ in range(2)]
    until = in_a_month()

    flags_decide_in_bulk(
        actor=sponsor,
        action="waive",
        flag_ids=[f.pk for f in flags],
        reason="Pilot only",
        expires_at=until,
    )

    stored = list(Flag.objects.filter(pk__in=[f.pk for f in flags]))
    assert {(f.state, f.waiver_reason, f.waiver_expires_at, f.waived_by) for f in stored} == {
        (FlagState.WAIVED, "Pilot only", until, sponsor)
    }


def test_a_sponsor_is_refused_per_flag_on_projects_they_do_not_sponsor(sponsor):
    mine = make_flag(ProjectFactory(sponsor=sponsor))
    theirs = make_flag(ProjectFactory(sponsor=UserFactory(roles=["sponsor"])))

    outcomes = outcome_of(
        flags_decide_in_bulk(
            actor=sponsor,
            action="waive",
            flag_ids=[theirs.pk, mine.pk],
            reason="Pilot only",
            expires_at=in_a_month(),
        )
    )

    assert outcomes[mine.pk][0] == "done"
    assert outcomes[theirs.pk] == (
        "refused",
        "Only the project's sponsor, an executive or an admin may act on this flag.",
    )
    assert states(mine, theirs) == [FlagState.WAIVED, FlagState.OPEN]


def test_a_flag_resolved_meanwhile_is_refused_and_the_others_still_go_through(sponsor):
    kept, resolved = (make_flag(ProjectFactory(sponsor=sponsor)) for _ in range(2))
    Flag.objects.filter(pk=resolved.pk).update(state=FlagState.RESOLVED)

    outcomes = outcome_of(
        flags_decide_in_bulk(actor=sponsor, action="acknowledge", flag_ids=[resolved.pk, kept.pk])
    )

    assert outcomes[resolved.pk] == (
        "refused",
        "Only an open flag can be acknowledged; this one is Resolved.",
    )
    assert outcomes[kept.pk][0] == "done"
    assert states(kept, resolved) == [FlagState.ACKNOWLEDGED, FlagState.RESOLVED]


def test_a_flag_the_user_may_not_see_is_as_not_found_as_one_that_does_not_exist(sponsor):
    flag = make_flag(ProjectFactory(sponsor=sponsor))
    nobody = UserFactory()  # signed in, no role: sees no flag

    outcomes = flags_decide_in_bulk(actor=nobody, action="acknowledge", flag_ids=[flag.pk, 10**9])

    assert [(o.status, o.detail) for o in outcomes] == [("not_found", "No such flag.")] * 2
    assert states(flag) == [FlagState.OPEN]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"reason": "  "}, "reason", "Say why this flag is waived."),
        ({"expires_at": None}, "expires_at", "Give the date the waiver expires."),
        (
            {"expires_at": timezone.now() - datetime.timedelta(days=1)},
            "expires_at",
            "The waiver must expire in the future.",
        ),
        ({"action": "delete"}, "action", "Choose acknowledge or waive."),
        ({"flag_ids": []}, "ids", "Select at least one flag."),
        (
            {"flag_ids": list(range(1, BULK_MAX + 2))},
            "ids",
            f"Select at most {BULK_MAX} flags at a time ({BULK_MAX + 1} were sent).",
        ),
    ],
)
def test_bad_input_names_the_field_and_decides_nothing(sponsor, changes, field, message):
    flag = make_flag(ProjectFactory(sponsor=sponsor))
    request = {
        "action": "waive",
        "flag_ids": [flag.pk],
        "reason": "Pilot only",
        "expires_at": in_a_month(),
    }

    with pytest.raises(ValidationError) as refused:
        flags_decide_in_bulk(actor=sponsor, **(request | changes))

    assert refused.value.message_dict == {field: [message]}
    assert states(flag) == [FlagState.OPEN]


def test_the_same_id_twice_is_decided_once(sponsor):
    flag = make_flag(ProjectFactory(sponsor=sponsor))

    outcomes = flags_decide_in_bulk(actor=sponsor, action="acknowledge", flag_ids=[flag.pk] * 2)

    assert [(o.flag_id, o.status) for o in outcomes] == [(flag.pk, "done")]
