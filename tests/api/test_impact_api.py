"""The impact preview and reactivation on the API: bad bodies are 400 naming the field, what the
user may not see is 404, who may not make the change gets 403 like the change itself, a change
the service would refuse is refused the same way — and nothing is ever saved or queued."""

import pytest

from alignment import engine
from strategies.models import BusinessStrategy
from tests.factories import ProjectFactory, ProjectLinkFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked(chain, pm):
    project = ProjectFactory(manager=pm, status="active", title="Partner portal")
    ProjectLinkFactory(project=project, crm_strategy=chain[2])
    engine.scan_full()
    return project


def test_a_preview_answers_the_lists_and_saves_nothing(
    api, executive, chain, linked, django_capture_on_commit_callbacks
):
    _goal, business, _crm = chain
    with django_capture_on_commit_callbacks() as callbacks:
        answer = api(executive).post(
            f"/api/business-strategies/{business.pk}/impact/", {"status": "retired"}, format="json"
        )
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["projects_losing_chain"] == [linked.pk]
    assert body["budget_losing_chain"] == f"{linked.budget_total:.2f}"
    assert {f["rule"] for f in body["flags_opening"]} >= {"project.broken_chain"}
    assert callbacks == []
    business.refresh_from_db()
    assert business.status == "active"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "vanished"}, "status"),
        ({"colour": "red"}, "colour"),
        ({"delete": "yes"}, "delete"),
        ({"delete": True, "status": "retired"}, "delete"),
        ({}, "non_field_errors"),
        ([1, 2], "non_field_errors"),
        ({"title": ""}, "title"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(api, executive, chain, body, field):
    goal = chain[0]
    answer = api(executive).post(f"/api/goals/{goal.pk}/impact/", body, format="json")
    assert answer.status_code == 400
    assert field in answer.json()


def test_the_serves_alias_names_itself_in_errors(api, executive, chain):
    crm = chain[2]
    url = f"/api/crm-strategies/{crm.pk}/impact/"
    answer = api(executive).post(url, {"serves": ["x"]}, format="json")
    assert answer.status_code == 400 and "serves" in answer.json()
    answer = api(executive).post(url, {"serves": [999999]}, format="json")
    assert answer.status_code == 400 and "serves" in answer.json()


def test_project_links_are_previewed_as_the_project_api_takes_them(api, pm, chain, linked):
    url = f"/api/projects/{linked.pk}/impact/"
    answer = api(pm).post(url, {"links": [{"crm_strategy": 999999}]}, format="json")
    assert answer.status_code == 400 and "links" in answer.json()
    answer = api(pm).post(url, {"crm_strategies": []}, format="json")
    assert answer.status_code == 200
    assert answer.json()["projects_losing_chain"] == [linked.pk]
    assert ["project.untraced", "project", linked.pk] in [
        [f["rule"], f["subject_type"], f["subject_id"]] for f in answer.json()["flags_opening"]
    ]


def test_permissions_are_those_of_the_change(api, viewer, pm, other_pm, nobody, chain, linked):
    goal = chain[0]
    assert api(viewer).post(f"/api/goals/{goal.pk}/impact/", {"status": "retired"}).status_code == (
        403
    )
    assert api(pm).post(f"/api/goals/{goal.pk}/impact/", {"status": "retired"}).status_code == 403
    assert api(nobody).post(f"/api/goals/{goal.pk}/impact/", {"status": "retired"}).status_code == (
        404
    )
    assert api().post(f"/api/goals/{goal.pk}/impact/", {"status": "retired"}).status_code == 401
    assert (
        api(other_pm)
        .post(f"/api/projects/{linked.pk}/impact/", {"status": "cancelled"})
        .status_code
        == 403
    )
    assert api(pm).post("/api/goals/999999/impact/", {"status": "retired"}).status_code == 404


def test_a_change_the_service_refuses_is_refused_by_its_preview(api, executive, chain, linked):
    _goal, business, crm = chain
    answer = api(executive).post(
        f"/api/crm-strategies/{crm.pk}/impact/", {"delete": True}, format="json"
    )
    assert answer.status_code == 409
    assert "Partner portal" in answer.json()["detail"]
    answer = api(executive).post(
        f"/api/business-strategies/{business.pk}/reactivate/", format="json"
    )
    assert answer.status_code == 400 and "status" in answer.json()


def test_reactivate_on_the_api(api, executive, chain, linked):
    _goal, business, _crm = chain
    client = api(executive)
    client.patch(f"/api/business-strategies/{business.pk}/", {"status": "retired"}, format="json")
    engine.scan_full()
    preview = client.post(
        f"/api/business-strategies/{business.pk}/impact/", {"status": "active"}, format="json"
    ).json()
    assert preview["projects_tracing_again"] == [linked.pk]
    assert "project.broken_chain" in {f["rule"] for f in preview["flags_closing"]}
    answer = client.post(f"/api/business-strategies/{business.pk}/reactivate/")
    assert answer.status_code == 200 and answer.json()["status"] == "active"
    assert answer["ETag"]
    stored = BusinessStrategy.objects.get(pk=business.pk)
    assert stored.status_changed_by == executive


@pytest.mark.django_db(transaction=True)
def test_outside_a_test_transaction_nothing_escapes_the_rollback(executive, pm, api):
    """Committed for real (no enclosing test transaction): the preview leaves no row changed,
    no re-check or full scan queued or run (tasks run inline in tests, so one that escaped
    would leave a Scan row), and no pending mark in the cache."""
    from django.core.cache import cache

    from alignment.models import Scan
    from alignment.tasks import full_pending_key, recheck_pending_key
    from tests.factories import BusinessStrategyFactory, CRMStrategyFactory, GoalFactory

    goal = GoalFactory(owner=executive)
    business = BusinessStrategyFactory(goal=goal)
    crm = CRMStrategyFactory(serves=[business])
    project = ProjectFactory(manager=pm, status="active")
    ProjectLinkFactory(project=project, crm_strategy=crm)
    Scan.objects.all().delete()
    cache.delete_many([full_pending_key(), recheck_pending_key(project.pk)])
    before = BusinessStrategy.objects.get(pk=business.pk)

    answer = api(executive).post(
        f"/api/business-strategies/{business.pk}/impact/", {"status": "retired"}, format="json"
    )
    assert answer.status_code == 200
    assert answer.json()["projects_losing_chain"] == [project.pk]
    answer = api(pm).post(
        f"/api/projects/{project.pk}/impact/", {"crm_strategies": []}, format="json"
    )
    assert answer.status_code == 200

    after = BusinessStrategy.objects.get(pk=business.pk)
    assert (after.status, after.version, after.updated_at) == (
        before.status,
        before.version,
        before.updated_at,
    )
    assert project.links.count() == 1
    assert not Scan.objects.exists()
    assert cache.get(full_pending_key()) is None
    assert cache.get(recheck_pending_key(project.pk)) is None
