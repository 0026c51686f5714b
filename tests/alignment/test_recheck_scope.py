"""A re-check after an edit covers the edited projects and just the groups they touch: its cost
does not grow with the portfolio, and it still resolves and opens exactly what a full scan
would for those projects and groups."""

import pytest

from alignment import engine
from alignment.models import UNRESOLVED_STATES, Flag, SubjectType
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


def test_a_project_moved_off_an_overloaded_manager_relieves_them_on_the_recheck():
    busy, calm = UserFactory(), UserFactory()
    projects = _active(6, manager=busy)  # the default limit is 5
    engine.scan_full()
    assert (SubjectType.MANAGER, busy.pk) in _overloaded()
    moved = projects[0]
    moved.manager = calm
    moved.save()
    engine.scan_projects([moved.pk])  # `busy` is no longer one of its groups
    assert (SubjectType.MANAGER, busy.pk) not in _overloaded()


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


def test_the_groups_of_a_recheck_are_those_of_its_projects_and_those_flagged_now():
    manager, department, strategy = UserFactory(), DepartmentFactory(), CRMStrategyFactory()
    project = ProjectFactory(manager=manager, department=department)
    ProjectLinkFactory(project=project, crm_strategy=strategy)
    flagged_elsewhere = UserFactory()
    _active(6, manager=flagged_elsewhere)
    engine.scan_full()
    groups = engine._groups_of((project.pk,))
    assert groups == {
        SubjectType.CRM_STRATEGY: (strategy.pk,),
        SubjectType.MANAGER: tuple(sorted({manager.pk, flagged_elsewhere.pk})),
        SubjectType.DEPARTMENT: (department.pk,),
    }
