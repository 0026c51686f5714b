"""A re-check after an edit covers the edited projects and just the groups they touch: its cost
does not grow with the portfolio, and it still resolves and opens exactly what a full scan
would for those projects and groups."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alignment import engine
from alignment.models import UNRESOLVED_STATES, Flag, Scan, ScanKind, ScanState, SubjectType
from projects.models import ProjectStatus
from tests.factories import (
    CRMStrategyFactory,
    DepartmentFactory,
    GoalFactory,
    ProjectFactory,
    ProjectLinkFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

OVERLOADED = "portfolio.overloaded"


def _overloaded() -> set[tuple[str, int]]:
    return set(
        Flag.objects.filter(rule=OVERLOADED, state__in=UNRESOLVED_STATES).values_list(
            "subject_type", "subject_id"
        )
    )


def _active(n, **fields):
    return [ProjectFactory(status=ProjectStatus.ACTIVE, **fields) for _ in range(n)]


@pytest.fixture
def edits(django_capture_on_commit_callbacks):
    """Edits whose re-check runs as it would after commit (tasks run in-process here)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_a_project_moved_off_an_overloaded_manager_relieves_them_on_the_recheck(edits):
    busy, calm = UserFactory(), UserFactory()
    projects = _active(6, manager=busy)  # the default limit is 5
    engine.scan_full()
    assert (SubjectType.MANAGER, busy.pk) in _overloaded()
    moved = projects[0]
    with edits():
        moved.manager = calm
        moved.save()
    # `busy` is no longer one of its groups: the edit named it as the group it left.
    assert (SubjectType.MANAGER, busy.pk) not in _overloaded()
    assert Scan.objects.latest("pk").kind == ScanKind.PARTIAL


def test_a_project_moved_to_another_department_relieves_the_old_one(edits):
    crowded, quiet = DepartmentFactory(), DepartmentFactory()
    projects = _active(6, department=crowded)
    engine.scan_full()
    assert (SubjectType.DEPARTMENT, crowded.pk) in _overloaded()
    with edits():
        projects[0].department = quiet
        projects[0].save()
    assert (SubjectType.DEPARTMENT, crowded.pk) not in _overloaded()


def test_a_link_removed_or_moved_relieves_the_crm_strategy_it_left(edits):
    crowded, other = CRMStrategyFactory(), CRMStrategyFactory()
    links = [ProjectLinkFactory(project=p, crm_strategy=crowded) for p in _active(7)]
    engine.scan_full()
    assert (SubjectType.CRM_STRATEGY, crowded.pk) in _overloaded()
    with edits():
        links[0].delete()
    assert (SubjectType.CRM_STRATEGY, crowded.pk) in _overloaded()  # six still
    with edits():
        links[1].crm_strategy = other
        links[1].save()
    assert (SubjectType.CRM_STRATEGY, crowded.pk) not in _overloaded()  # five


def test_a_deleted_project_relieves_its_manager_and_department(edits):
    manager, department = UserFactory(), DepartmentFactory()
    projects = _active(6, manager=manager, department=department)
    engine.scan_full()
    assert {(SubjectType.MANAGER, manager.pk), (SubjectType.DEPARTMENT, department.pk)} <= (
        _overloaded()
    )
    with edits():
        projects[0].delete()
    assert _overloaded() == set()


def test_the_edit_that_moves_a_project_queues_its_recheck_with_the_groups_it_left(
    db, django_capture_on_commit_callbacks, queued_rechecks
):
    from alignment import tasks

    queued = queued_rechecks
    old_manager, old_department = UserFactory(), DepartmentFactory()
    project = ProjectFactory(manager=old_manager, department=old_department)
    with django_capture_on_commit_callbacks(execute=True):
        project.manager = UserFactory()
        project.department = DepartmentFactory()
        project.save()
        project.title = "Renamed as well"  # a second edit of the burst: nothing more queued
        project.save()
    assert queued == [
        [
            [project.pk],
            {
                SubjectType.DEPARTMENT: [old_department.pk],
                SubjectType.MANAGER: [old_manager.pk],
            },
        ]
    ]
    cache.delete_many(
        [
            tasks.recheck_pending_key(project.pk),
            tasks.group_pending_key(SubjectType.MANAGER, old_manager.pk),
            tasks.group_pending_key(SubjectType.DEPARTMENT, old_department.pk),
        ]
    )


def test_an_edit_that_leaves_no_group_names_none(
    db, django_capture_on_commit_callbacks, queued_rechecks
):
    from alignment import tasks

    queued = queued_rechecks
    project = ProjectFactory()
    with django_capture_on_commit_callbacks(execute=True):
        project.title = "Only renamed"
        project.save()
    assert queued == [[[project.pk], {}]]
    cache.delete(tasks.recheck_pending_key(project.pk))


def test_a_project_that_tips_its_groups_over_the_limit_flags_them_on_the_recheck():
    manager, department, strategy = UserFactory(), DepartmentFactory(), CRMStrategyFactory()
    for project in _active(5, manager=manager, department=department):
        ProjectLinkFactory(project=project, crm_strategy=strategy)
    engine.scan_full()
    assert _overloaded() == set()
    sixth = ProjectFactory(status=ProjectStatus.ACTIVE, manager=manager, department=department)
    ProjectLinkFactory(project=sixth, crm_strategy=strategy)
    engine.scan_projects([sixth.pk])
    assert _overloaded() == {
        (SubjectType.MANAGER, manager.pk),
        (SubjectType.DEPARTMENT, department.pk),
        (SubjectType.CRM_STRATEGY, strategy.pk),
    }


def test_a_recheck_leaves_groups_and_rules_its_projects_do_not_touch_to_the_full_scan():
    elsewhere = UserFactory()
    _active(6, manager=elsewhere)  # overloaded, but no scan has looked yet
    GoalFactory(title="Nothing serves me")  # goal.no_strategy, no scan yet
    edited = ProjectFactory(title="Edited", sponsor=None)
    engine.effective_settings()
    recheck = engine.scan_projects([edited.pk])
    flagged = set(Flag.objects.values_list("rule", "subject_id"))
    assert ("project.no_sponsor", edited.pk) in flagged
    assert (OVERLOADED, elsewhere.pk) not in flagged
    assert not Flag.objects.filter(rule="goal.no_strategy").exists()
    assert recheck.per_rule[OVERLOADED] == {"opened": 0, "resolved": 0}
    # The full scan finds both.
    engine.scan_full()
    assert (SubjectType.MANAGER, elsewhere.pk) in _overloaded()
    assert Flag.objects.filter(rule="goal.no_strategy", state="open").exists()


def test_the_groups_of_a_recheck_are_those_of_its_projects_and_those_they_left():
    manager, department, strategy = UserFactory(), DepartmentFactory(), CRMStrategyFactory()
    project = ProjectFactory(manager=manager, department=department)
    ProjectLinkFactory(project=project, crm_strategy=strategy)
    flagged_elsewhere, left = UserFactory(), UserFactory()
    _active(6, manager=flagged_elsewhere)
    engine.scan_full()
    # A group flagged for other projects is not looked at: that is what made a re-check cost
    # more the more groups were flagged.
    assert engine._groups_of((project.pk,)) == {
        SubjectType.CRM_STRATEGY: (strategy.pk,),
        SubjectType.MANAGER: (manager.pk,),
        SubjectType.DEPARTMENT: (department.pk,),
        SubjectType.USER_GROUP: (),
    }
    assert engine._groups_of((project.pk,), {SubjectType.MANAGER: [left.pk]}) == {
        SubjectType.CRM_STRATEGY: (strategy.pk,),
        SubjectType.MANAGER: tuple(sorted({manager.pk, left.pk})),
        SubjectType.DEPARTMENT: (department.pk,),
        SubjectType.USER_GROUP: (),
    }


def test_a_recheck_ignores_groups_it_does_not_know_and_costs_the_same_however_many_are_flagged(
    django_assert_num_queries,
):
    project = ProjectFactory(status=ProjectStatus.ACTIVE)
    _active(6, manager=UserFactory())
    engine.scan_full()
    with CaptureQueriesContext(connection) as one_flagged:
        engine.scan_projects([project.pk], left_groups={"goal": [1], "nonsense": [2]})
    for _ in range(5):
        _active(6, manager=UserFactory(), department=DepartmentFactory())
    engine.scan_full()
    assert len(_overloaded()) == 11
    with django_assert_num_queries(len(one_flagged.captured_queries)):
        recheck = engine.scan_projects([project.pk])
    assert recheck.state == ScanState.DONE
