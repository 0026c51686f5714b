"""Writes act on what is stored, not on a copy a caller read earlier: only changed fields are
written, a stale version is refused (412 in the API, an explanation on the page and in the
admin), and every change records who made it. Shown here on goals and KPIs; the other
resources follow the same kernel code and have their own tests."""

import re

import pytest
from django.urls import reverse

from goals import services as goal_services
from goals.models import KPI, BusinessGoal
from tests.factories import GoalFactory, KPIFactory

pytestmark = pytest.mark.django_db


def _etag(response) -> str:
    return response["ETag"]


def test_a_goal_answers_with_its_version_as_etag(api, executive):
    goal = GoalFactory()

    response = api(executive).get(reverse("api:goal-detail", args=[goal.pk]))

    assert response.status_code == 200
    assert _etag(response) == '"1"'
    assert response.json()["version"] == 1


def test_a_patch_without_if_match_keeps_a_concurrent_change_to_another_field(
    api, executive, monkeypatch
):
    from goals.api import GoalViewSet

    goal = GoalFactory(description="Old", priority=2)
    read = GoalViewSet.get_object

    def read_then_someone_else_writes(viewset):
        obj = read(viewset)
        # Another request commits a change to another field after this one read the goal.
        BusinessGoal.objects.filter(pk=goal.pk).update(priority=1)
        return obj

    monkeypatch.setattr(GoalViewSet, "get_object", read_then_someone_else_writes)

    response = api(executive).patch(
        reverse("api:goal-detail", args=[goal.pk]), {"description": "New"}, format="json"
    )

    assert response.status_code == 200
    goal.refresh_from_db()
    assert (goal.description, goal.priority) == ("New", 1)


def test_a_patch_with_a_stale_if_match_is_refused_with_412_and_writes_nothing(api, executive):
    goal = GoalFactory(description="Old")
    goal_services.goal_update(actor=executive, goal_id=goal.pk, changes={"title": "Renamed"})

    response = api(executive).patch(
        reverse("api:goal-detail", args=[goal.pk]),
        {"description": "Mine"},
        format="json",
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 412
    assert "changed by" in response.json()["detail"]
    goal.refresh_from_db()
    assert (goal.description, goal.version) == ("Old", 2)


def test_a_patch_with_the_current_etag_succeeds_and_answers_the_next_one(api, executive):
    goal = GoalFactory()
    client = api(executive)
    tag = _etag(client.get(reverse("api:goal-detail", args=[goal.pk])))

    response = client.patch(
        reverse("api:goal-detail", args=[goal.pk]),
        {"description": "Sharper"},
        format="json",
        HTTP_IF_MATCH=tag,
    )

    assert response.status_code == 200
    assert _etag(response) == '"2"'
    goal.refresh_from_db()
    assert (goal.description, goal.version, goal.updated_by) == ("Sharper", 2, executive)


def test_a_delete_with_a_stale_if_match_is_refused(api, executive):
    kpi = KPIFactory()
    KPI.objects.filter(pk=kpi.pk).update(version=5)

    response = api(executive).delete(reverse("api:kpi-detail", args=[kpi.pk]), HTTP_IF_MATCH='"4"')

    assert response.status_code == 412
    assert KPI.objects.filter(pk=kpi.pk).exists()


def test_a_malformed_if_match_is_a_400_naming_the_header(api, executive):
    goal = GoalFactory()

    response = api(executive).patch(
        reverse("api:goal-detail", args=[goal.pk]),
        {"description": "x"},
        format="json",
        HTTP_IF_MATCH="yesterday",
    )

    assert response.status_code == 400
    assert "If-Match" in response.json()["detail"]


def test_an_update_that_changes_nothing_writes_nothing(executive):
    goal = GoalFactory(title="Same")

    goal_services.goal_update(actor=executive, goal_id=goal.pk, changes={"title": "Same"})

    goal.refresh_from_db()
    assert goal.version == 1


def _form_data(goal, **changes):
    data = {
        "title": goal.title,
        "description": goal.description,
        "owner": goal.owner_id,
        "status": goal.status,
        "priority": goal.priority,
        "horizon_start": "",
        "horizon_end": "",
        "version": goal.version,
    }
    return data | changes


def test_a_page_save_from_a_stale_form_explains_who_changed_it_and_keeps_the_input(
    client, executive
):
    other = type(executive).objects.create_user("exec-b", first_name="Bea", last_name="Other")
    other.groups.add(*executive.groups.all())
    goal = GoalFactory(owner=executive, title="Grow revenue", description="Opened")
    opened = _form_data(goal)  # the first tab opens the edit form at version 1
    goal_services.goal_update(actor=other, goal_id=goal.pk, changes={"description": "Saved by Bea"})
    client.force_login(executive)

    response = client.post(
        reverse("goals:edit", args=[goal.pk]), opened | {"description": "Typed by me"}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "changed by Bea Other at" in page
    assert "Typed by me" in page  # the person's input is kept …
    assert "Saved by Bea" in page  # … and the value saved meanwhile is shown
    goal.refresh_from_db()
    assert goal.description == "Saved by Bea"
    # The page now carries the new version: saving again knowingly replaces the value.
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    again = client.post(
        reverse("goals:edit", args=[goal.pk]),
        opened | {"description": "Typed by me", "version": version},
    )
    assert again.status_code == 302
    goal.refresh_from_db()
    assert goal.description == "Typed by me"


def test_an_admin_save_from_a_stale_change_page_is_refused(client, admin_user, executive):
    goal = GoalFactory(owner=executive, description="Opened")
    opened = _form_data(goal) | {
        "kpis-TOTAL_FORMS": "0",
        "kpis-INITIAL_FORMS": "0",
        "kpis-MIN_NUM_FORMS": "0",
        "kpis-MAX_NUM_FORMS": "1000",
    }
    goal_services.goal_update(actor=executive, goal_id=goal.pk, changes={"priority": 1})
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:goals_businessgoal_change", args=[goal.pk]),
        opened | {"description": "From the stale admin page"},
        follow=True,
    )

    assert "since you opened it" in response.content.decode()
    goal.refresh_from_db()
    assert (goal.description, goal.priority) == ("Opened", 1)


def test_two_tabs_editing_different_fields_lose_nothing(client, executive):
    """Tab 1 renames the goal; tab 2, opened before, changes its description. Tab 2 is told
    about the change, its own edit is kept, the rename now shows in its form, and saving again
    keeps both."""
    from tests.contract.forms import form_data

    goal = GoalFactory(owner=executive, title="Grow revenue", description="Opened")
    client.force_login(executive)
    url = reverse("goals:edit", args=[goal.pk])
    tab1 = form_data(client.get(url).content.decode())
    tab2 = form_data(client.get(url).content.decode())
    assert client.post(url, tab1 | {"title": ["Grow revenue profitably"]}).status_code == 302

    refused = client.post(url, tab2 | {"description": ["Margin first"]})

    page = refused.content.decode()
    assert refused.status_code == 200
    assert "changed by" in page
    again = form_data(page)
    assert again["title"] == ["Grow revenue profitably"]  # the other tab's rename, not reverted
    assert again["description"] == ["Margin first"]  # this tab's edit, kept
    goal.refresh_from_db()
    assert (goal.title, goal.description) == ("Grow revenue profitably", "Opened")

    assert client.post(url, again).status_code == 302
    goal.refresh_from_db()
    assert (goal.title, goal.description) == ("Grow revenue profitably", "Margin first")


def test_two_tabs_editing_the_same_field_show_the_clash_next_to_it(client, executive):
    from tests.contract.forms import form_data

    goal = GoalFactory(owner=executive, description="Opened")
    client.force_login(executive)
    url = reverse("goals:edit", args=[goal.pk])
    tab1 = form_data(client.get(url).content.decode())
    tab2 = form_data(client.get(url).content.decode())
    client.post(url, tab1 | {"description": ["From tab one"]})

    page = client.post(url, tab2 | {"description": ["From tab two"]}).content.decode()

    assert "Saved meanwhile by" in page and "From tab one" in page
    assert form_data(page)["description"] == ["From tab two"]
    goal.refresh_from_db()
    assert goal.description == "From tab one"


def test_a_page_save_sends_only_the_fields_the_person_changed(client, executive):
    """A form opened before another change to a field the person does not touch must not
    write that field back: only edited fields reach the service."""
    from tests.contract.forms import form_data

    goal = GoalFactory(owner=executive, priority=2, description="Opened")
    client.force_login(executive)
    url = reverse("goals:edit", args=[goal.pk])
    opened = form_data(client.get(url).content.decode())
    # A change that does not bump the version (as a bulk tool might do) …
    BusinessGoal.objects.filter(pk=goal.pk).update(priority=1)

    client.post(url, opened | {"description": ["Sharper"]})

    goal.refresh_from_db()
    assert (goal.description, goal.priority) == ("Sharper", 1)  # … is not reverted


def test_a_page_edit_posted_without_its_version_is_refused_and_writes_nothing(client, executive):
    """Without the version the page was opened at, the save could undo a change made meanwhile
    (a page cached before a deploy, a crafted post): it is refused, asking for a reload."""
    goal = GoalFactory(owner=executive, description="Stored")
    client.force_login(executive)

    response = client.post(
        reverse("goals:edit", args=[goal.pk]),
        _form_data(goal, description="Old copy") | {"version": ""},
    )

    assert response.status_code == 200
    assert "reload the page" in response.content.decode()
    goal.refresh_from_db()
    assert (goal.description, goal.version) == ("Stored", 1)


def test_the_conflict_message_gives_the_time_in_the_sites_time_zone(api, executive, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    goal = GoalFactory()
    goal_services.goal_update(actor=executive, goal_id=goal.pk, changes={"title": "Renamed"})

    response = api(executive).patch(
        reverse("api:goal-detail", args=[goal.pk]),
        {"title": "x"},
        format="json",
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 412
    assert response.json()["detail"].split(" since")[0].endswith("JST")


def test_if_match_with_several_tags_passes_when_one_is_current(api, executive):
    goal = GoalFactory()

    response = api(executive).patch(
        reverse("api:goal-detail", args=[goal.pk]),
        {"description": "x"},
        format="json",
        HTTP_IF_MATCH='"7", "1"',
    )

    assert response.status_code == 200


# --- Sub-actions and page buttons honour the version too


def test_reordering_features_with_a_stale_if_match_is_refused(api, pm):
    from projects.models import CRMProject
    from tests.factories import FeatureFactory, ProjectFactory

    project = ProjectFactory(manager=pm)
    first, second = FeatureFactory(project=project), FeatureFactory(project=project)
    CRMProject.objects.filter(pk=project.pk).update(version=3)

    response = api(pm).post(
        reverse("api:project-reorder-features", args=[project.pk]),
        {"features": [second.pk, first.pk]},
        format="json",
        HTTP_IF_MATCH='"2"',
    )

    assert response.status_code == 412
    assert list(project.features.order_by("position").values_list("pk", flat=True)) == [
        first.pk,
        second.pk,
    ]


def test_approving_with_a_stale_if_match_is_refused_and_a_fresh_one_answers_the_etag(api, sponsor):
    from projects.models import CRMProject, ProjectStatus
    from tests.factories import ProjectFactory, RoadmapPhaseFactory, SuccessMetricFactory

    project = ProjectFactory(sponsor=sponsor, status=ProjectStatus.PROPOSED)
    SuccessMetricFactory(project=project)
    RoadmapPhaseFactory(project=project)
    url = reverse("api:project-approve", args=[project.pk])

    stale = api(sponsor).post(url, HTTP_IF_MATCH=f'"{project.version + 1}"')
    assert stale.status_code == 412
    assert CRMProject.objects.get(pk=project.pk).status == ProjectStatus.PROPOSED

    fresh = api(sponsor).post(url, HTTP_IF_MATCH=f'"{project.version}"')
    assert fresh.status_code == 200
    assert fresh["ETag"] == f'"{project.version + 1}"'


def test_a_kpi_reading_honours_if_match_and_answers_the_kpis_new_etag(api, executive):
    kpi = KPIFactory()
    url = reverse("api:kpi-check-in", args=[kpi.pk])
    reading = {"value": "12", "recorded_on": "2026-01-15"}

    assert api(executive).post(url, reading, format="json", HTTP_IF_MATCH='"9"').status_code == 412
    assert kpi.check_ins.count() == 0

    response = api(executive).post(url, reading, format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 201
    assert response["ETag"] == '"2"'


def test_a_delete_button_on_a_stale_page_deletes_nothing(client, pm):
    from projects.models import SuccessMetric
    from tests.factories import SuccessMetricFactory

    metric = SuccessMetricFactory(project__manager=pm)
    SuccessMetric.objects.filter(pk=metric.pk).update(version=2)  # edited since the page showed
    client.force_login(pm)

    response = client.post(
        reverse("projects:metric_delete", args=[metric.pk]), {"version": "1"}, follow=True
    )

    assert "since you opened it" in response.content.decode()
    assert SuccessMetric.objects.filter(pk=metric.pk).exists()


def test_a_retire_button_on_a_stale_page_retires_nothing(client, executive):
    goal = GoalFactory(owner=executive)
    goal_services.goal_update(actor=executive, goal_id=goal.pk, changes={"title": "Renamed"})
    client.force_login(executive)

    response = client.post(reverse("goals:retire", args=[goal.pk]), {"version": "1"}, follow=True)

    assert "Nothing was changed" in response.content.decode()
    goal.refresh_from_db()
    assert goal.status == "active"


def test_saving_a_goal_in_the_admin_does_not_write_back_a_kpi_changed_meanwhile(
    client, admin_user, executive
):
    """The goal's change page lists its KPIs inline; a KPI renamed after the page was opened
    must not be reverted by saving the page, and the stale save is refused, naming why."""
    from tests.contract.forms import form_data

    goal = GoalFactory(owner=executive, description="Opened")
    kpi = KPIFactory(goal=goal, name="Margin")
    client.force_login(admin_user)
    url = reverse("admin:goals_businessgoal_change", args=[goal.pk])
    opened = form_data(client.get(url).content.decode(), containing="title")
    goal_services.kpi_update(actor=executive, kpi_id=kpi.pk, changes={"name": "Margin NEW"})

    response = client.post(url, opened | {"description": ["Edited in the admin"]}, follow=True)

    assert "since you opened it" in response.content.decode()
    kpi.refresh_from_db()
    goal.refresh_from_db()
    assert kpi.name == "Margin NEW"
    assert goal.description == "Opened"  # refused as a whole: nothing half written


def test_saving_a_goal_in_the_admin_with_untouched_kpis_works(client, admin_user, executive):
    from tests.contract.forms import form_data

    goal = GoalFactory(owner=executive, description="Opened")
    KPIFactory(goal=goal, name="Margin")
    client.force_login(admin_user)
    url = reverse("admin:goals_businessgoal_change", args=[goal.pk])
    opened = form_data(client.get(url).content.decode(), containing="title")

    response = client.post(url, opened | {"description": ["Edited in the admin"]})

    assert response.status_code == 302
    goal.refresh_from_db()
    assert goal.description == "Edited in the admin"
