"""portfolio.change_collision: more than N go-lives hitting one user group within W days."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alignment.engine import Scope, evaluate, scan_full
from alignment.models import UNRESOLVED_STATES, Flag
from projects.models import PhaseKind, ProjectStatus, ProjectUserGroup
from tests.factories import ProjectFactory, RoadmapPhaseFactory, UserGroupFactory, rule_settings
from tests.rows import scan_statements

from .conftest import today

pytestmark = pytest.mark.django_db

CODE = "portfolio.change_collision"


def _go_live(group, day, *, title=None, status=ProjectStatus.ACTIVE, go_live=True, kind=None):
    """A project affecting `group` whose go-live milestone (or other roadmap entry) is on `day`."""
    project = ProjectFactory(status=status, **({"title": title} if title else {}))
    ProjectUserGroup.objects.create(project=project, user_group=group)
    RoadmapPhaseFactory(
        project=project,
        name="Go-live",
        kind=kind or PhaseKind.MILESTONE,
        start_date=day,
        end_date=day,
        go_live=go_live,
    )
    return project


def _flagged() -> dict[str, str]:
    return dict(
        Flag.objects.filter(rule=CODE, state__in=UNRESOLVED_STATES).values_list(
            "subject_label", "message"
        )
    )


def _day(n: int) -> datetime.date:
    return today() + datetime.timedelta(days=n)


def test_the_rule_is_in_the_catalogue_with_its_two_defaults():
    from alignment.rules import rule_for

    rule = rule_for(CODE)
    assert (rule.threshold_default, rule.window_default) == (2, 30)
    assert rule.subject_types == ("user_group",)


def test_exactly_n_go_lives_in_the_window_is_no_collision():
    group = UserGroupFactory(name="Service agents")
    _go_live(group, _day(10))
    _go_live(group, _day(20))
    scan_full()
    assert _flagged() == {}


def test_n_plus_one_go_lives_in_the_window_collide_and_the_message_names_them():
    group = UserGroupFactory(name="Sales reps EMEA")
    _go_live(group, _day(10), title="Alpha")
    _go_live(group, _day(15), title="Bravo")
    _go_live(group, _day(40), title="Charlie")  # 30 days after the first: still inside
    _go_live(group, _day(90), title="Far away")
    scan_full()
    flags = _flagged()
    assert set(flags) == {"Sales reps EMEA"}
    message = flags["Sales reps EMEA"]
    assert "“Sales reps EMEA”" in message and "within 30 days" in message
    for title, n in (("Alpha", 10), ("Bravo", 15), ("Charlie", 40)):
        assert f"{title} on {_day(n).isoformat()}" in message
    assert "Far away" not in message
    flag = Flag.objects.get(rule=CODE)
    assert (flag.subject_type, flag.subject_id, flag.project_id) == ("user_group", group.pk, None)


def test_the_message_names_the_first_stretch_only_from_its_first_day_to_the_windows_end():
    group = UserGroupFactory(name="Field service")
    _go_live(group, _day(1), title="Early")  # alone: the next is 39 days later
    _go_live(group, _day(40), title="First")
    _go_live(group, _day(45), title="Second")
    _go_live(group, _day(70), title="Last in")  # 30 days after the stretch's first
    _go_live(group, _day(71), title="Just out")
    scan_full()
    message = _flagged()["Field service"]
    for title, n in (("First", 40), ("Second", 45), ("Last in", 70)):
        assert f"{title} on {_day(n).isoformat()}" in message
    assert "Early" not in message
    assert "Just out" not in message


def test_one_day_past_the_window_is_no_collision():
    group = UserGroupFactory()
    _go_live(group, _day(10))
    _go_live(group, _day(15))
    _go_live(group, _day(41))  # 31 days after the first
    scan_full()
    assert _flagged() == {}


@pytest.mark.parametrize("status", [ProjectStatus.DONE, ProjectStatus.CANCELLED])
def test_go_lives_of_done_and_cancelled_projects_do_not_count(status):
    group = UserGroupFactory()
    _go_live(group, _day(1))
    _go_live(group, _day(2))
    _go_live(group, _day(3), status=status)
    scan_full()
    assert _flagged() == {}


def test_milestones_that_are_not_go_lives_and_other_groups_do_not_count():
    group, other = UserGroupFactory(name="Mine"), UserGroupFactory(name="Other")
    _go_live(group, _day(1))
    _go_live(group, _day(2))
    _go_live(group, _day(3), go_live=False)
    _go_live(other, _day(3))
    scan_full()
    assert _flagged() == {}


def test_the_settings_change_both_numbers():
    group = UserGroupFactory(name="Partner managers")
    _go_live(group, _day(1))
    _go_live(group, _day(8))
    scan_full()
    assert _flagged() == {}
    rule_settings().filter(code=CODE).update(threshold=1, window=7)
    scan_full()
    assert set(_flagged()) == {"Partner managers"}
    assert "More than 1 go-lives" in _flagged()["Partner managers"]
    rule_settings().filter(code=CODE).update(window=6)
    scan_full()
    assert _flagged() == {}


def test_a_recheck_of_a_project_covers_its_groups_and_resolves_when_it_moves_away():
    group = UserGroupFactory(name="Field service")
    _go_live(group, _day(1))
    _go_live(group, _day(2))
    third = _go_live(group, _day(3))
    scan_full()
    assert set(_flagged()) == {"Field service"}
    ProjectUserGroup.objects.filter(project=third).delete()
    evaluate(Scope(project_ids=(third.pk,), left_groups={"user_group": [group.pk]}))
    assert _flagged() == {}
    ProjectUserGroup.objects.create(project=third, user_group=group)
    evaluate(Scope(project_ids=(third.pk,)))
    assert set(_flagged()) == {"Field service"}


def test_the_query_count_is_flat_from_10_to_200_projects():
    groups = [UserGroupFactory(name=f"Group {i}") for i in range(3)]
    rule_settings()

    def scan_counted(size: int) -> int:
        for i in range(ProjectUserGroup.objects.count(), size):
            _go_live(groups[i % 3], _day(i % 40))
        Flag.objects.all().delete()
        with CaptureQueriesContext(connection) as queries:
            scan_full()
        assert len(_flagged()) == 3
        return scan_statements(queries)

    assert scan_counted(10) == scan_counted(200)
