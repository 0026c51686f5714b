"""The History tab of each object's page, the Activity page and restoring from it."""

import datetime

import pytest
from django.urls import reverse

from goals import services as goal_services
from projects import services as project_services
from projects.models import CRMProject
from tests.factories import FeatureFactory, GoalFactory, ProjectFactory


@pytest.mark.parametrize("role", ["executive", "pm", "sponsor", "viewer", "admin_user"])
def test_every_role_reads_an_object_s_history_tab(request, as_user, chain, role):
    goal, business, crm = chain
    project = ProjectFactory(title="Partner portal")
    feature = FeatureFactory(project=project)
    client = as_user(request.getfixturevalue(role))
    pages = {
        "goal": (goal, reverse("goals:detail", args=[goal.pk])),
        "business_strategy": (
            business,
            reverse("strategies:business_detail", args=[business.pk]),
        ),
        "crm_strategy": (crm, reverse("strategies:crm_detail", args=[crm.pk])),
        "project": (project, reverse("projects:detail", args=[project.pk])),
        "feature": (feature, reverse("projects:feature_detail", args=[feature.pk])),
    }
    for kind, (obj, page) in pages.items():
        history = reverse("object_history", args=[kind, obj.pk])
        assert f'href="{history}"' in client.get(page).content.decode(), kind
        html = client.get(history).content.decode()
        assert "Created" in html, kind


def test_the_history_tab_says_who_changed_what_in_words(as_user, executive, pm, sponsor):
    project = project_services.project_create(actor=pm, title="Partner portal")
    with_sponsor = {"sponsor": sponsor, "budget_people": 1200}
    project_services.project_update(actor=pm, project_id=project.pk, changes=with_sponsor)

    html = as_user(executive).get(reverse("object_history", args=["project", project.pk])).content
    html = html.decode()

    assert "Updated</strong> CRM project" in html
    sponsor_name = sponsor.get_full_name()
    assert f"Sponsor: — → {sponsor_name}" in html
    assert "Budget people: 0.00 → 1200" in html or "Budget people: 0 → 1200" in html
    assert pm.get_full_name() in html


def test_history_tab_of_an_unknown_kind_or_id_or_for_no_role_is_404(as_user, viewer, nobody):
    goal = GoalFactory()
    assert as_user(viewer).get("/history/spaceship/1/").status_code == 404
    assert as_user(viewer).get("/history/goal/999999/").status_code == 404
    assert as_user(nobody).get(f"/history/goal/{goal.pk}/").status_code == 404


def test_a_deleted_project_s_tab_offers_a_restore_to_an_executive_only(
    as_user, executive, pm, viewer
):
    project = project_services.project_create(actor=pm, title="Short-lived idea")
    project_services.project_delete(actor=pm, project_id=project.pk)
    url = reverse("object_history", args=["project", project.pk])
    restore = reverse("history_restore", args=["project", project.pk])

    assert restore not in as_user(viewer).get(url).content.decode()
    assert as_user(viewer).post(restore).status_code == 403
    html = as_user(executive).get(url).content.decode()
    assert restore in html and "Deleted on" in html

    response = as_user(executive).post(restore)

    assert response.status_code == 302
    assert response.url == reverse("projects:detail", args=[project.pk])
    assert CRMProject.objects.filter(pk=project.pk, title="Short-lived idea").exists()


def _changes_to(project, pm, n):
    for i in range(n):
        project_services.project_update(
            actor=pm, project_id=project.pk, changes={"budget_people": project.pk * 1000 + i}
        )
        FeatureFactory(project=project)


def test_the_history_tab_costs_the_same_queries_for_a_few_and_many_entries(
    as_user, queries_for, pm, viewer
):
    project = ProjectFactory(manager=pm, sponsor=None)
    url = reverse("object_history", args=["project", project.pk])
    as_user(viewer)
    _changes_to(project, pm, 15)  # more than a page: the page shows the same kinds of change
    few = queries_for(url)
    _changes_to(project, pm, 40)
    assert queries_for(url) == few


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("executive", 200),
        ("sponsor", 200),
        ("admin_user", 200),
        ("pm", 404),
        ("viewer", 404),
        ("nobody", 404),
    ],
)
def test_the_activity_page_is_for_executives_sponsors_and_admins(request, as_user, role, status):
    user = request.getfixturevalue(role)
    response = as_user(user).get(reverse("activity"))
    assert response.status_code == status
    nav = 'href="/activity/"' in as_user(user).get(reverse("home")).content.decode()
    assert nav == (status == 200)


def test_the_activity_page_filters_by_person_kind_and_date(as_user, executive, pm):
    goal = goal_services.goal_create(actor=executive, title="Enter Brazil", status="draft")
    project = project_services.project_create(actor=pm, title="Partner portal")
    client = as_user(executive)
    today = datetime.date.today()

    by_pm = client.get(reverse("activity"), {"person": pm.username}).content.decode()
    goals_only = client.get(reverse("activity"), {"kind": "goal"}).content.decode()
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    later = client.get(reverse("activity"), {"since": tomorrow}).content.decode()
    today_only = client.get(
        reverse("activity"), {"since": today.isoformat(), "until": today.isoformat()}
    ).content.decode()

    assert project.title in by_pm and goal.title not in by_pm
    assert goal.title in goals_only and project.title not in goals_only
    assert "No changes recorded for these filters" in later
    assert goal.title in today_only and project.title in today_only


def test_bad_activity_filters_are_named_and_filter_nothing(as_user, executive):
    goal_services.goal_create(actor=executive, title="Enter Brazil", status="draft")
    client = as_user(executive)

    html = client.get(
        reverse("activity"),
        {"person": "nobody-by-this-name", "kind": "spaceship", "since": "2026-13-45"},
    ).content.decode()
    backwards = client.get(
        reverse("activity"), {"since": "2026-05-02", "until": "2026-05-01"}
    ).content.decode()

    assert "Person:" in html and "Kind of object:" in html and "From:" in html
    assert "Enter Brazil" in html
    assert "The end of the range is before its start." in backwards


def test_the_activity_page_restores_a_deleted_project(as_user, executive, pm):
    project = project_services.project_create(actor=pm, title="Short-lived idea")
    project_services.project_delete(actor=pm, project_id=project.pk)
    client = as_user(executive)
    restore = reverse("history_restore", args=["project", project.pk])

    assert restore in client.get(reverse("activity")).content.decode()
    client.post(restore)

    assert CRMProject.objects.filter(pk=project.pk).exists()
    # The deletion stays in the history, without a second Restore button.
    after = client.get(reverse("activity")).content.decode()
    assert restore not in after and "(restored since)" in after
    again = client.post(restore, follow=True).content.decode()
    assert "exists; there is nothing to restore" in again


def test_the_activity_page_costs_the_same_queries_for_a_few_and_many_changes(
    as_user, queries_for, executive, pm, sponsor
):
    def changes(n, start):
        for i in range(start, start + n):
            project = project_services.project_create(actor=pm, title=f"Project {i}")
            project_services.project_update(
                actor=pm, project_id=project.pk, changes={"sponsor": sponsor}
            )
            goal_services.goal_create(actor=executive, title=f"Goal {i}", status="draft")

    as_user(executive)
    changes(3, 0)
    few = queries_for(reverse("activity"))
    few_filtered = queries_for(reverse("activity") + "?kind=project&person=pm")
    changes(40, 3)
    assert queries_for(reverse("activity")) == few
    assert queries_for(reverse("activity") + "?kind=project&person=pm") == few_filtered


def test_the_activity_page_pages_the_history_without_counting_it(as_user, executive, pm):
    """The history grows with every edit: the Activity page reads one more entry than it shows
    to know whether a next page exists, and never counts the whole table."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm_alignment import history

    for i in range(history.PER_PAGE + 2):
        project_services.project_create(actor=pm, title=f"Project {i}")
    client = as_user(executive)

    with CaptureQueriesContext(connection) as captured:
        first = client.get(reverse("activity"))
    second = client.get(reverse("activity") + "?page=2")

    assert not [q["sql"] for q in captured if "COUNT(" in q["sql"].upper()]
    first_html, second_html = first.content.decode(), second.content.decode()
    assert 'rel="next"' in first_html and 'rel="prev"' not in first_html
    assert 'rel="prev"' in second_html and 'rel="next"' not in second_html
    # Newest first: the first page ends before the oldest, which the second page shows.
    assert "Project 0" not in first_html and "Project 0" in second_html
