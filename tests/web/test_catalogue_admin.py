"""Departments and user groups are kept in the admin, through their services: a save from a
stale change page is refused (nothing the other person saved is overwritten), each change bumps
the version and is recorded, and a delete that would orphan projects is refused, naming them."""

import pytest
from auditlog import get_logentry_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from core import audit
from core.services import EditConflict
from projects import services
from projects.models import Department, UserGroup
from tests.factories import DepartmentFactory, ProjectFactory, UserGroupFactory

pytestmark = pytest.mark.django_db

Entry = get_logentry_model()


def _change(client, model: str, pk: int, data: dict, *, follow: bool = True):
    return client.post(reverse(f"admin:projects_{model}_change", args=[pk]), data, follow=follow)


def test_a_department_saved_from_a_stale_admin_page_is_refused(client, admin_user):
    department = DepartmentFactory(name="Sales")
    opened_at = department.version
    services.department_update(
        actor=admin_user, department_id=department.pk, changes={"is_it": True}
    )
    client.force_login(admin_user)

    response = _change(
        client, "department", department.pk, {"name": "Sales EMEA", "version": opened_at}
    )

    assert "since you opened it" in response.content.decode()
    department.refresh_from_db()
    # Neither the rename from the stale page nor its unticked "is IT" was written.
    assert (department.name, department.is_it) == ("Sales", True)


def test_a_department_saved_in_the_admin_bumps_its_version_and_is_recorded(client, admin_user):
    department = DepartmentFactory(name="Sales")
    client.force_login(admin_user)

    response = _change(
        client,
        "department",
        department.pk,
        {"name": "Sales EMEA", "is_it": "on", "version": department.version},
        follow=False,
    )

    assert response.status_code == 302
    department.refresh_from_db()
    assert (department.name, department.is_it) == ("Sales EMEA", True)
    assert (department.version, department.updated_by) == (2, admin_user)
    (entry,) = Entry.objects.filter(
        content_type=ContentType.objects.get_for_model(Department),
        object_id=department.pk,
        action=audit.UPDATED,
    )
    assert (entry.actor, entry.channel) == (admin_user, "admin")
    assert entry.changes["name"] == ["Sales", "Sales EMEA"]


def test_a_department_added_in_the_admin_goes_through_the_service(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:projects_department_add"), {"name": "Marketing"}, follow=False
    )

    assert response.status_code == 302
    department = Department.objects.get(name="Marketing")
    assert (department.version, department.updated_by, department.is_it) == (1, admin_user, False)


def test_a_duplicate_department_name_is_refused_on_its_field(client, admin_user):
    DepartmentFactory(name="Sales")
    other = DepartmentFactory(name="Service")
    client.force_login(admin_user)

    response = _change(client, "department", other.pk, {"name": "Sales", "version": 1})

    assert response.status_code == 200
    assert 'id="id_name_error"><li>Department with this Name already exists.' in (
        response.content.decode()
    )
    other.refresh_from_db()
    assert other.name == "Service"


def test_a_department_that_owns_projects_is_not_deleted(client, admin_user):
    department = DepartmentFactory(name="Sales")
    ProjectFactory(title="Partner portal", department=department)
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:projects_department_delete", args=[department.pk]),
        {"post": "yes"},
        follow=True,
    )

    assert response.status_code == 200
    assert "Partner portal" in response.content.decode()
    assert Department.objects.filter(pk=department.pk).exists()


def test_a_department_no_project_names_is_deleted(client, admin_user):
    department = DepartmentFactory(name="Sales")
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:projects_department_delete", args=[department.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Department.objects.filter(pk=department.pk).exists()


def test_only_admins_change_departments(executive, pm):
    department = DepartmentFactory(name="Sales")
    for actor in (executive, pm):
        with pytest.raises(PermissionDenied):
            services.department_update(
                actor=actor, department_id=department.pk, changes={"name": "Mine"}
            )
        with pytest.raises(PermissionDenied):
            services.department_create(actor=actor, name="Mine")
        with pytest.raises(PermissionDenied):
            services.department_delete(actor=actor, department_id=department.pk)
    department.refresh_from_db()
    assert (department.name, department.version) == ("Sales", 1)


def test_the_department_services_refuse_a_stale_version_and_an_empty_name(admin_user):
    department = DepartmentFactory(name="Sales")
    services.department_update(
        actor=admin_user, department_id=department.pk, changes={"name": "Sales EMEA"}
    )

    with pytest.raises(EditConflict):
        services.department_update(
            actor=admin_user, department_id=department.pk, changes={"is_it": True}, version=1
        )
    with pytest.raises(EditConflict):
        services.department_delete(actor=admin_user, department_id=department.pk, version=1)
    with pytest.raises(ValidationError) as refused:
        services.department_update(
            actor=admin_user, department_id=department.pk, changes={"name": ""}, version=2
        )
    assert "name" in refused.value.message_dict
    department.refresh_from_db()
    assert (department.name, department.is_it, department.version) == ("Sales EMEA", False, 2)


def test_a_user_group_saved_from_a_stale_admin_page_is_refused(client, admin_user, executive):
    group = UserGroupFactory(name="Sales reps", description="Opened")
    opened_at = group.version
    services.user_group_update(
        actor=executive, user_group_id=group.pk, changes={"description": "Saved meanwhile"}
    )
    client.force_login(admin_user)

    response = _change(
        client,
        "usergroup",
        group.pk,
        {"name": "Sales reps EMEA", "description": "Opened", "version": opened_at},
    )

    assert "since you opened it" in response.content.decode()
    group.refresh_from_db()
    assert (group.name, group.description) == ("Sales reps", "Saved meanwhile")


def test_a_user_group_named_by_a_project_is_not_deleted_in_the_admin(client, admin_user):
    group = UserGroupFactory(name="Sales reps")
    project = ProjectFactory(title="Partner portal")
    project.user_groups.add(group)
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:projects_usergroup_delete", args=[group.pk]), {"post": "yes"}, follow=True
    )

    assert "Partner portal" in response.content.decode()
    assert UserGroup.objects.filter(pk=group.pk).exists()


def _staff_with_model_permissions(user, model: str):
    from django.contrib.auth.models import Permission

    user.is_staff = True
    user.save()
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=[f"{a}_{model}" for a in ("add", "change", "delete", "view")]
        )
    )
    return user


def test_staff_who_may_not_keep_departments_are_not_offered_the_forms(client, executive):
    """Django's model permissions alone do not make a department keeper: the admin offers add,
    change and delete only to whom the services accept (admins), so a staff executive reads."""
    department = DepartmentFactory(name="Sales")
    client.force_login(_staff_with_model_permissions(executive, "department"))

    add = client.get(reverse("admin:projects_department_add"))
    change_page = client.get(reverse("admin:projects_department_change", args=[department.pk]))
    post = _change(
        client, "department", department.pk, {"name": "Mine", "version": 1}, follow=False
    )
    delete = client.post(
        reverse("admin:projects_department_delete", args=[department.pk]), {"post": "yes"}
    )

    assert add.status_code == 403
    assert change_page.status_code == 200
    assert 'name="_save"' not in change_page.content.decode()
    assert (post.status_code, delete.status_code) == (403, 403)
    department.refresh_from_db()
    assert (department.name, department.version) == ("Sales", 1)


def test_a_staff_project_manager_keeps_user_groups_in_the_admin(client, pm):
    group = UserGroupFactory(name="Sales reps")
    client.force_login(_staff_with_model_permissions(pm, "usergroup"))

    response = _change(
        client,
        "usergroup",
        group.pk,
        {"name": "Sales reps EMEA", "description": "", "version": group.version},
        follow=False,
    )

    assert response.status_code == 302
    group.refresh_from_db()
    assert (group.name, group.updated_by) == ("Sales reps EMEA", pm)
