"""Forms that do not surprise: they offer only the statuses the service accepts, refuse a title
that differs from an existing one only in case (naming it), show and refuse over-long input,
require a link's rationale, and explain the link picker (weight, each strategy's chain)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from projects.models import CRMProject, ProjectStatus
from projects.services import project_status_refusal, project_statuses_offered
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def _offered(html: str) -> set[str]:
    return {status for status in ProjectStatus.values if f'<option value="{status}"' in html}


# --- statuses offered are the statuses accepted ------------------------------------------


def test_a_new_project_is_offered_no_status_the_service_refuses(as_user, pm):
    html = as_user(pm).get(reverse("projects:create")).content.decode()

    assert _offered(html) == {"proposed", "on_hold", "done", "cancelled"}
    assert "A project becomes active once its sponsor has approved it" in html


def test_a_new_project_posted_as_active_is_refused_naming_the_status(as_user, pm):
    response = as_user(pm).post(
        reverse("projects:create"), {"title": "Too eager", "status": "active"}
    )

    assert "Status: Select a valid choice. active is not one of the available choices." in (
        response.content.decode()
    )
    assert not CRMProject.objects.exists()


def test_an_approved_project_is_offered_active_but_never_approved_again_by_hand(as_user, pm):
    approved = ProjectFactory(manager=pm, status=ProjectStatus.ON_HOLD, approved_at=timezone.now())

    html = as_user(pm).get(reverse("projects:edit", args=[approved.pk])).content.decode()

    assert _offered(html) == {"proposed", "active", "on_hold", "done", "cancelled"}


def test_an_approved_project_keeps_its_status_on_offer(as_user, pm):
    approved = ProjectFactory(manager=pm, status=ProjectStatus.APPROVED, approved_at=timezone.now())

    html = as_user(pm).get(reverse("projects:edit", args=[approved.pk])).content.decode()

    assert {"approved", "active"} <= _offered(html)


@pytest.mark.parametrize("current", ProjectStatus.values)
@pytest.mark.parametrize("approved", [False, True])
def test_the_statuses_offered_are_exactly_those_the_service_accepts(current, approved):
    offered = project_statuses_offered(current=current, approved=approved)

    for status in ProjectStatus.values:
        accepted = project_status_refusal(status, current=current, approved=approved) is None
        assert (status in offered) == accepted
    assert current in offered
