"""One write, every caller: the project's edit page, the API and the admin give the same answer
for the same write by the same person, because all three call the same service with the
project's id and the change, and the service decides on the project as stored.

The case that once differed: a manager handing their project to another project manager. The
page's form had already written the new manager into the project before "may this user edit
it?" was asked, so the page said 403 while the API said 200. Handing over is an edit by the
current manager (README: "a manager may hand a project to another project manager").
"""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from projects.models import CRMProject
from tests.factories import ProjectFactory
from tests.tokens import token_for

pytestmark = pytest.mark.django_db

CALLERS = ["page", "api", "admin"]


def _as_staff(user):
    """Admin access for a project manager: the admin's own model permissions on projects."""
    user.is_staff = True
    user.save()
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_crmproject", "change_crmproject"])
    )
    return user


def _form(project: CRMProject, **changes) -> dict:
    """The fields the edit page and the admin's change form post for the stored project."""
    data = {
        "title": project.title,
        "description": project.description,
        "manager": project.manager_id,
        "sponsor": project.sponsor_id or "",
        "department": project.department_id or "",
        "business_owner": project.business_owner_id or "",
        "status": project.status,
        "start_date": "",
        "end_date": "",
        "budget_technology": str(project.budget_technology),
        "budget_people": str(project.budget_people),
        "budget_process": str(project.budget_process),
        "budget_training": str(project.budget_training),
        "budget_incentives": str(project.budget_incentives),
        "integration_notes": project.integration_notes,
    }
    data.update(changes)
    return data


def _hand_over(caller: str, user, project: CRMProject, to) -> str:
    """`user` sets the project's manager to `to` through `caller`: "saved" or "refused"."""
    if caller == "api":
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
        response = client.patch(
            reverse("api:project-detail", args=[project.pk]), {"manager": to.pk}, format="json"
        )
        return "saved" if response.status_code == 200 else "refused"
    client = Client()
    if caller == "page":
        client.force_login(user)
        response = client.post(
            reverse("projects:edit", args=[project.pk]),
            _form(project, manager=to.pk, version=project.version),
        )
        return "saved" if response.status_code == 302 else "refused"
    client.force_login(_as_staff(user))
    response = client.post(
        reverse("admin:projects_crmproject_change", args=[project.pk]),
        _form(project, manager=to.pk),
    )
    assert "login" not in response.get("Location", "")  # the admin did take the request
    errors = [m for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
    return "saved" if response.status_code == 302 and not errors else "refused"


@pytest.mark.parametrize("caller", CALLERS)
def test_a_manager_hands_their_project_to_another_manager_through_every_caller(
    caller, pm, other_pm
):
    project = ProjectFactory(manager=pm, sponsor=None)
    before = project.version

    outcome = _hand_over(caller, pm, project, other_pm)

    project.refresh_from_db()
    assert outcome == "saved"
    assert (project.manager, project.updated_by) == (other_pm, pm)
    assert project.version == before + 1


@pytest.mark.parametrize("caller", CALLERS)
def test_a_manager_cannot_take_someone_elses_project_through_any_caller(caller, pm, other_pm):
    project = ProjectFactory(manager=pm, sponsor=None)

    outcome = _hand_over(caller, other_pm, project, other_pm)

    project.refresh_from_db()
    assert outcome == "refused"
    assert project.manager == pm


@pytest.mark.parametrize("caller", CALLERS)
def test_a_project_cannot_be_handed_to_someone_who_is_no_project_manager(caller, pm, sponsor):
    project = ProjectFactory(manager=pm, sponsor=None)

    outcome = _hand_over(caller, pm, project, sponsor)

    project.refresh_from_db()
    assert outcome == "refused"
    assert project.manager == pm
