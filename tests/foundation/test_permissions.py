"""The permission gate: every function for every persona."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from alignment.models import Flag
from core import permissions
from projects.models import CRMProject
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

PERSONAS = ["executive", "pm", "sponsor", "viewer", "admin_user", "nobody", "anonymous"]


@pytest.fixture
def persona(request):
    def get(name):
        if name == "anonymous":
            return AnonymousUser()
        return request.getfixturevalue(name)

    return get


def _expect(table: dict[str, bool]) -> list:
    return [pytest.param(name, table[name], id=name) for name in PERSONAS]


@pytest.mark.parametrize(
    ("name", "allowed"),
    _expect(
        {
            "executive": True,
            "pm": True,
            "sponsor": True,
            "viewer": True,
            "admin_user": True,
            "nobody": False,
            "anonymous": False,
        }
    ),
)
def test_who_can_read(persona, name, allowed):
    assert permissions.can_read(persona(name)) is allowed


@pytest.mark.parametrize(
    ("name", "allowed"),
    _expect(
        {
            "executive": True,
            "pm": False,
            "sponsor": False,
            "viewer": False,
            "admin_user": True,
            "nobody": False,
            "anonymous": False,
        }
    ),
)
def test_who_can_manage_strategy(persona, name, allowed):
    assert permissions.can_manage_strategy(persona(name)) is allowed


@pytest.mark.parametrize(
    ("name", "allowed"),
    _expect(
        {
            "executive": False,
            "pm": True,
            "sponsor": False,
            "viewer": False,
            "admin_user": True,
            "nobody": False,
            "anonymous": False,
        }
    ),
)
def test_who_can_create_projects(persona, name, allowed):
    assert permissions.can_create_project(persona(name)) is allowed


@pytest.mark.parametrize(
    ("name", "allowed"),
    _expect(
        {
            "executive": False,
            "pm": True,
            "sponsor": False,
            "viewer": False,
            "admin_user": True,
            "nobody": False,
            "anonymous": False,
        }
    ),
)
def test_who_can_edit_a_project_managed_by_pm(persona, pm, name, allowed):
    project = ProjectFactory(manager=pm)
    assert permissions.can_edit_project(persona(name), project) is allowed


def test_a_project_manager_cannot_edit_a_project_they_do_not_manage(pm, other_pm):
    assert not permissions.can_edit_project(other_pm, ProjectFactory(manager=pm))


def test_managing_a_project_without_the_role_does_not_allow_editing(viewer):
    assert not permissions.can_edit_project(viewer, ProjectFactory(manager=viewer))


@pytest.mark.parametrize(
    ("name", "allowed"),
    _expect(
        {
            "executive": True,
            "pm": False,
            "sponsor": True,
            "viewer": False,
            "admin_user": True,
            "nobody": False,
            "anonymous": False,
        }
    ),
)
def test_who_can_approve_a_project_sponsored_by_sponsor(persona, sponsor, name, allowed):
    project = ProjectFactory(sponsor=sponsor)
    assert permissions.can_approve_project(persona(name), project) is allowed


def test_a_sponsor_cannot_approve_someone_elses_project(sponsor):
    assert not permissions.can_approve_project(sponsor, ProjectFactory())


@pytest.mark.parametrize(
    ("name", "allowed"),
    _expect(
        {
            "executive": True,
            "pm": False,
            "sponsor": True,
            "viewer": False,
            "admin_user": True,
            "nobody": False,
            "anonymous": False,
        }
    ),
)
def test_who_can_act_on_a_flag_of_a_project_sponsored_by_sponsor(persona, sponsor, name, allowed):
    flag = Flag(rule="project.no_roadmap", project=ProjectFactory(sponsor=sponsor))
    assert permissions.can_act_on_flag(persona(name), flag) is allowed


def test_a_sponsor_cannot_act_on_flags_without_a_project(sponsor):
    assert not permissions.can_act_on_flag(sponsor, Flag(rule="goal.no_strategy"))


@pytest.mark.parametrize(
    ("name", "allowed"),
    _expect(
        {
            "executive": True,
            "pm": False,
            "sponsor": True,
            "viewer": False,
            "admin_user": True,
            "nobody": False,
            "anonymous": False,
        }
    ),
)
def test_who_can_start_a_scan(persona, name, allowed):
    assert permissions.can_start_scan(persona(name)) is allowed


@pytest.mark.parametrize(
    ("name", "sees"),
    _expect(
        {
            "executive": 2,
            "pm": 2,
            "sponsor": 2,
            "viewer": 2,
            "admin_user": 2,
            "nobody": 0,
            "anonymous": 0,
        }
    ),
)
def test_visible_to_gives_everything_with_a_role_and_nothing_without(persona, name, sees):
    ProjectFactory.create_batch(2)
    assert permissions.visible_to(CRMProject.objects.all(), persona(name)).count() == sees


def test_get_visible_or_404_hides_existence_from_users_without_a_role(viewer, nobody):
    project = ProjectFactory()
    assert permissions.get_visible_or_404(CRMProject.objects.all(), viewer, pk=project.pk) == (
        project
    )
    with pytest.raises(Http404):
        permissions.get_visible_or_404(CRMProject.objects.all(), nobody, pk=project.pk)


@pytest.mark.parametrize("bad", [999999, "not-a-number"])
def test_get_visible_or_404_answers_404_for_missing_or_malformed_ids(viewer, bad):
    with pytest.raises(Http404):
        permissions.get_visible_or_404(CRMProject.objects.all(), viewer, pk=bad)


def test_an_inactive_user_has_no_roles(viewer):
    viewer.is_active = False
    assert permissions.user_roles(viewer) == frozenset()
    assert not permissions.can_read(viewer)


def test_roles_are_read_once_per_user_object(viewer, django_assert_num_queries):
    with django_assert_num_queries(1):
        permissions.can_read(viewer)
        permissions.can_manage_strategy(viewer)
        permissions.can_start_scan(viewer)
