"""GET /api/{resource}/{id}/history/ for every resource, and POST …/{id}/restore/."""

import pytest
from django.utils import timezone

from alignment.engine import scan_full
from alignment.models import Flag
from core import audit
from goals import services as goal_services
from projects import services as project_services
from projects.models import CRMProject, Feature, FeatureLink, ProjectLink, SuccessMetric
from strategies import services as strategy_services
from strategies.models import CRMStrategy, CRMStrategyServes
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    DepartmentFactory,
    FeatureFactory,
    FeatureLinkFactory,
    KPICheckInFactory,
    KPIFactory,
    ProjectCheckInFactory,
    ProjectFactory,
    ProjectLinkFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
)

RATIONALE = "It gives partners the self-service the strategy relies on."


@pytest.fixture
def one_of_each(pm, chain):
    goal, business, crm = chain
    project = ProjectFactory(manager=pm, status="active", sponsor=None)
    ProjectLinkFactory(project=project, crm_strategy=crm)
    feature = FeatureFactory(project=project)
    scan_full()
    kpi = KPIFactory(goal=goal)
    return {
        "goals": goal,
        "kpis": kpi,
        "kpi-readings": KPICheckInFactory(kpi=kpi),
        "business-strategies": business,
        "crm-strategies": crm,
        "projects": project,
        "features": feature,
        "metrics": SuccessMetricFactory(project=project),
        "phases": RoadmapPhaseFactory(project=project),
        "project-check-ins": ProjectCheckInFactory(project=project),
        "departments": DepartmentFactory(),
        "flags": Flag.objects.filter(project=project).first(),
    }


def test_every_resource_answers_its_history_as_a_paginated_list(api, viewer, one_of_each):
    client = api(viewer)
    for resource, obj in one_of_each.items():
        if resource == "flags":
            continue  # a new flag has no history (the scan does not record inserts)
        response = client.get(f"/api/{resource}/{obj.pk}/history/")
        assert response.status_code == 200, (resource, response.content)
        body = response.json()
        assert set(body) == {"count", "next", "previous", "results"}
        own = [
            e for e in body["results"] if e["object"]["id"] == obj.pk and e["action"] == "created"
        ]
        assert own, resource
        entry = own[0]
        assert set(entry) >= {"at", "user", "channel", "action", "changes"}
        assert entry["channel"] == "system"
        assert all(isinstance(pair, list) and len(pair) == 2 for pair in entry["changes"].values())


def test_a_flag_s_history_lists_its_decisions(api, executive, one_of_each):
    flag = one_of_each["flags"]
    assert api(executive).post(f"/api/flags/{flag.pk}/acknowledge/").status_code == 200

    body = api(executive).get(f"/api/flags/{flag.pk}/history/").json()

    (entry,) = body["results"]
    assert (entry["user"], entry["channel"], entry["action"]) == (
        executive.username,
        "api",
        "updated",
    )
    assert entry["changes"]["state"] == ["open", "acknowledged"]


def test_a_project_s_history_holds_its_parts_newest_first_a_page_at_a_time(
    api, pm, viewer, one_of_each
):
    project = one_of_each["projects"]
    for n in range(3):
        api(pm).patch(f"/api/projects/{project.pk}/", {"budget_people": f"{n + 1}00.00"})

    body = api(viewer).get(f"/api/projects/{project.pk}/history/?page_size=2").json()
    everything = api(viewer).get(f"/api/projects/{project.pk}/history/?page_size=200").json()

    assert body["count"] == everything["count"] >= 9
    assert len(body["results"]) == 2 and body["next"]
    newest = body["results"][0]
    assert (newest["user"], newest["channel"]) == (pm.username, "api")
    assert newest["changes"]["budget_people"][0] in ("200.00", "200")
    kinds = {e["object"]["type"] for e in everything["results"]}
    assert {"project", "projectlink", "feature", "successmetric", "roadmapphase"} <= kinds
    assert {"projectcheckin"} <= kinds
    times = [e["at"] for e in everything["results"]]
    assert times == sorted(times, reverse=True)


def test_history_is_404_for_a_user_without_a_role_and_for_an_id_never_used(
    api, nobody, viewer, one_of_each
):
    project = one_of_each["projects"]
    assert api(nobody).get(f"/api/projects/{project.pk}/history/").status_code == 404
    assert api(viewer).get("/api/projects/999999/history/").status_code == 404
    assert api().get(f"/api/projects/{project.pk}/history/").status_code == 401
    assert api(viewer).get(f"/api/projects/{project.pk}/history/?page=99").status_code == 404


def test_history_costs_the_same_queries_for_a_few_and_many_entries(
    api, viewer, pm, chain, django_assert_num_queries
):
    project = ProjectFactory(manager=pm)
    client = api(viewer)
    url = f"/api/projects/{project.pk}/history/"
    client.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for n in range(30):
        project_services.project_update(
            actor=pm, project_id=project.pk, changes={"budget_people": n + 1}
        )
        FeatureFactory(project=project)
    with django_assert_num_queries(len(few)):
        body = client.get(url).json()
    assert body["count"] == 61


def test_a_deleted_project_s_history_stays_readable_at_its_old_id(api, pm, viewer, chain):
    project = project_services.project_create(actor=pm, title="Short-lived idea")
    project_services.project_delete(actor=pm, project_id=project.pk)

    body = api(viewer).get(f"/api/projects/{project.pk}/history/").json()

    assert [e["action"] for e in body["results"]] == ["deleted", "created"]


def _project_with_everything(pm, chain):
    _goal, business, crm = chain
    retired = CRMStrategyFactory(serves=[business], title="Old CRM strategy")
    project = ProjectFactory(manager=pm, sponsor=None, title="Partner portal")
    ProjectLinkFactory(project=project, crm_strategy=crm, rationale=RATIONALE)
    ProjectLinkFactory(project=project, crm_strategy=retired, rationale=RATIONALE)
    features = [FeatureFactory(project=project, position=i) for i in range(3)]
    for feature in features:
        FeatureLinkFactory(feature=feature, crm_strategy=crm, rationale=RATIONALE)
    SuccessMetricFactory(project=project)
    return project, features, crm, retired


def test_an_executive_restores_a_deleted_project_with_its_features_and_links(
    api, pm, executive, chain
):
    project, features, crm, retired = _project_with_everything(pm, chain)
    pk = project.pk
    assert api(pm).delete(f"/api/projects/{pk}/").status_code == 204
    assert not Feature.objects.filter(project_id=pk).exists()
    strategy_services.crm_strategy_update(
        actor=executive, crm_strategy_id=retired.pk, changes={"status": "retired"}
    )

    response = api(executive).post(f"/api/projects/{pk}/restore/")

    assert response.status_code == 201, response.content
    assert response.json()["id"] == pk
    (skipped,) = response.json()["skipped"]
    assert "retired" in skipped
    restored = CRMProject.objects.get(pk=pk)
    assert restored.title == "Partner portal"
    assert sorted(restored.features.values_list("pk", flat=True)) == sorted(f.pk for f in features)
    assert list(
        ProjectLink.objects.filter(project=restored).values_list("crm_strategy", flat=True)
    ) == [crm.pk]
    assert FeatureLink.objects.filter(feature__project=restored).count() == 3
    assert SuccessMetric.objects.filter(project=restored).count() == 1
    # The restore is recorded, each entry naming the deletion it undoes.
    history = api(executive).get(f"/api/projects/{pk}/history/?page_size=200").json()["results"]
    restores = [e for e in history if e["restored_from"]]
    assert {e["object"]["type"] for e in restores} >= {"project", "feature", "projectlink"}
    assert {(e["user"], e["channel"], e["action"]) for e in restores} == {
        (executive.username, "api", "created")
    }


def test_restoring_twice_or_without_a_deletion_is_refused_and_only_executives_may(
    api, pm, viewer, executive, nobody, chain
):
    project = project_services.project_create(actor=pm, title="Short-lived idea")
    project_services.project_delete(actor=pm, project_id=project.pk)
    url = f"/api/projects/{project.pk}/restore/"

    assert api(pm).post(url).status_code == 403
    assert api(viewer).post(url).status_code == 403
    assert api(nobody).post(url).status_code == 404
    assert not CRMProject.objects.filter(pk=project.pk).exists()
    assert api(executive).post(url).status_code == 201
    again = api(executive).post(url)
    assert again.status_code == 400
    assert "exists" in str(again.json())
    assert api(executive).post("/api/projects/999999/restore/").status_code == 404


def test_a_restored_title_taken_meanwhile_is_refused_naming_the_field(api, pm, executive, chain):
    project = project_services.project_create(actor=pm, title="Partner portal")
    project_services.project_delete(actor=pm, project_id=project.pk)
    project_services.project_create(actor=pm, title="Partner portal")

    response = api(executive).post(f"/api/projects/{project.pk}/restore/")

    assert response.status_code == 400
    assert "title" in response.json()


def test_goals_strategies_and_features_are_restored_too(api, executive, pm, chain):
    goal = goal_services.goal_create(actor=executive, title="Enter Brazil", status="draft")
    kpi = KPIFactory(goal=goal)
    goal_services.goal_delete(actor=executive, goal_id=goal.pk)
    business = BusinessStrategyFactory(goal=chain[0])
    crm = strategy_services.crm_strategy_create(
        actor=executive, title="Serve resellers", business_strategies=[business.pk]
    )
    strategy_services.crm_strategy_delete(actor=executive, crm_strategy_id=crm.pk)
    project = ProjectFactory(manager=pm)
    feature = FeatureFactory(project=project)
    FeatureLinkFactory(feature=feature, crm_strategy=chain[2], rationale=RATIONALE)
    project_services.feature_delete(actor=pm, feature_id=feature.pk)

    client = api(executive)
    assert client.post(f"/api/goals/{goal.pk}/restore/").status_code == 201
    assert client.post(f"/api/crm-strategies/{crm.pk}/restore/").status_code == 201
    assert client.post(f"/api/features/{feature.pk}/restore/").status_code == 201

    assert goal.__class__.objects.get(pk=goal.pk).kpis.get().pk == kpi.pk
    assert list(
        CRMStrategyServes.objects.filter(crm_strategy_id=crm.pk).values_list(
            "business_strategy", flat=True
        )
    ) == [business.pk]
    assert CRMStrategy.objects.filter(pk=crm.pk).exists()
    assert FeatureLink.objects.filter(feature_id=feature.pk).count() == 1


def test_a_feature_whose_project_is_gone_cannot_be_restored_alone(api, executive, pm, chain):
    project = ProjectFactory(manager=pm)
    feature = FeatureFactory(project=project)
    project_services.feature_delete(actor=pm, feature_id=feature.pk)
    project_services.project_delete(actor=pm, project_id=project.pk)

    response = api(executive).post(f"/api/features/{feature.pk}/restore/")

    assert response.status_code == 400
    assert "no longer exists" in str(response.json())


def test_a_restore_through_a_page_records_the_page_channel(client, executive, pm, chain):
    project = project_services.project_create(actor=pm, title="Short-lived idea")
    project_services.project_delete(actor=pm, project_id=project.pk)
    client.force_login(executive)

    response = client.post(f"/history/project/{project.pk}/restore/")

    assert response.status_code == 302
    entry = audit.history_of(CRMProject(pk=project.pk)).first()
    assert (entry.channel, entry.actor, entry.action) == ("page", executive, audit.CREATED)
    assert entry.additional_data["restored_from"]
    assert entry.timestamp <= timezone.now()


def test_the_schema_says_a_system_entry_has_no_user_and_no_restore(api, viewer, one_of_each):
    department = one_of_each["departments"]
    entry = api(viewer).get(f"/api/departments/{department.pk}/history/").json()["results"][0]
    assert (entry["user"], entry["restored_from"]) == (None, None)  # written by no one
    schema = api(viewer).get("/api/schema/?format=json").json()
    properties = schema["components"]["schemas"]["HistoryEntry"]["properties"]
    assert properties["user"]["nullable"] is True
    assert properties["restored_from"]["nullable"] is True
