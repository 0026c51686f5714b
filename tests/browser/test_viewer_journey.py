"""A viewer reads everything but cannot reach an edit form."""

import pytest
from playwright.sync_api import expect

from tests.factories import DepartmentFactory, GoalFactory, ProjectFactory, ProjectLinkFactory

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


def test_viewer_filters_the_projects_by_a_department_picked_from_suggestions(
    page, live_server, login, viewer
):
    channel = DepartmentFactory(name="Partner Channel")
    ProjectFactory(title="Partner portal", department=channel)
    ProjectFactory(title="Sales forecasting", department=DepartmentFactory(name="Sales Ops"))
    login(viewer)

    page.goto(f"{live_server.url}/projects/")
    department = page.get_by_label("Department")
    department.fill("partner")
    offered = page.locator("#id_department-suggestions option")
    expect(offered).to_have_count(1)
    expect(offered).to_have_attribute("value", "Partner Channel")
    department.fill(offered.get_attribute("value"))
    page.get_by_role("button", name="Filter").click()

    table = page.locator("table")
    expect(table).to_contain_text("Partner portal")
    expect(table).not_to_contain_text("Sales forecasting")
    # The bar shows the chosen department after the submit; a name nobody has is an error.
    expect(page.get_by_label("Department")).to_have_value("Partner Channel")
    page.get_by_label("Department").fill("Nowhere")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#id_department_error")).to_contain_text(
        "Department: No department is called “Nowhere”"
    )
