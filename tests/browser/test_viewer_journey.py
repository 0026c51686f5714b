"""A viewer reads everything but cannot reach an edit form."""

import pytest
from playwright.sync_api import expect

from tests.factories import GoalFactory, ProjectLinkFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_viewer_reads_a_project_but_cannot_reach_its_edit_form(
    page, live_server, login, screenshot, viewer
):
    project = ProjectLinkFactory(project__title="Partner portal").project
    goal = GoalFactory(title="Grow revenue")
    login(viewer)

    page.goto(f"{live_server.url}/projects/{project.pk}/")
    expect(page.get_by_role("heading", name="Partner portal")).to_be_visible()
    expect(page.get_by_role("link", name="Edit project")).to_have_count(0)
    expect(page.get_by_text("Add a feature")).to_have_count(0)

    response = page.goto(f"{live_server.url}/projects/{project.pk}/edit/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="You can't do that here")).to_be_visible()
    screenshot("viewer-forbidden")

    response = page.goto(f"{live_server.url}/goals/{goal.pk}/edit/")
    assert response is not None and response.status == 403
