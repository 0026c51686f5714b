"""Writes to projects, features, metrics, phases and user groups through the API: a PATCH
changes only the fields it sends (a concurrent change to another field survives), every answer
carries the version as an ETag, and a write made from a stale copy (If-Match) is refused with
412."""

import pytest
from django.urls import reverse

from projects import services
from projects.api import (
    FeatureViewSet,
    MetricViewSet,
    PhaseViewSet,
    ProjectViewSet,
    UserGroupViewSet,
)
from projects.models import CRMProject, Feature, RoadmapPhase, SuccessMetric, UserGroup
from projects.services import LinkSpec
from tests.factories import (
    CRMStrategyFactory,
    FeatureFactory,
    ProjectFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
    UserGroupFactory,
)

pytestmark = pytest.mark.django_db


def _project(pm):
    return ProjectFactory(manager=pm)


def _feature(pm):
    return FeatureFactory(project__manager=pm)


def _metric(pm):
    return SuccessMetricFactory(project__manager=pm)


def _phase(pm):
    return RoadmapPhaseFactory(project__manager=pm)


def _user_group(pm):
    return UserGroupFactory()


# resource → (make one the pm may edit, its viewset, model, field the client sends and a value,
#             another field someone else changes meanwhile and its value)
RESOURCES = {
    "projects": (_project, ProjectViewSet, CRMProject, "title", "Renamed", "description", "Kept"),
    "features": (_feature, FeatureViewSet, Feature, "title", "Renamed", "description", "Kept"),
    "metrics": (_metric, MetricViewSet, SuccessMetric, "name", "Renamed", "unit", "EUR"),
    "phases": (_phase, PhaseViewSet, RoadmapPhase, "name", "Renamed", "kind", "milestone"),
    "user-groups": (
        _user_group,
        UserGroupViewSet,
        UserGroup,
        "name",
        "Renamed",
        "description",
        "Kept",
    ),
}
BASENAMES = {
    "projects": "project",
    "features": "feature",
    "metrics": "metric",
    "phases": "phase",
    "user-groups": "user-group",
}
# The service each resource's writes go through: {noun}_update(…, {noun}_id=…).
NOUNS = {**BASENAMES, "user-groups": "user_group"}


def _url(resource: str, pk: int) -> str:
    return reverse(f"api:{BASENAMES[resource]}-detail", args=[pk])


def _change_as(user, resource: str, obj, field: str, value) -> None:
    """Someone else saves a change through the service (so the version moves on)."""
    noun = NOUNS[resource]
    update = getattr(services, f"{noun}_update")
    update(actor=user, **{f"{noun}_id": obj.pk}, changes={field: value})


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_patch_of_one_field_keeps_a_concurrent_change_to_another(api, pm, resource, monkeypatch):
    make, viewset, model, field, value, other, other_value = RESOURCES[resource]
    obj = make(pm)
    read = viewset.get_object

    def read_then_someone_else_writes(self):
        # The API has read its copy; before it writes, another request changes another field.
        copy = read(self)
        model.objects.filter(pk=copy.pk).update(**{other: other_value})
        return copy

    monkeypatch.setattr(viewset, "get_object", read_then_someone_else_writes)

    response = api(pm).patch(_url(resource, obj.pk), {field: value}, format="json")

    stored = model.objects.get(pk=obj.pk)
    assert response.status_code == 200, response.json()
    assert (getattr(stored, field), getattr(stored, other)) == (value, other_value)


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_stale_if_match_is_refused_with_412_naming_who_changed_it(api, pm, admin_user, resource):
    make, _, model, field, value, other, other_value = RESOURCES[resource]
    obj = make(pm)
    client = api(pm)
    etag = client.get(_url(resource, obj.pk)).headers["ETag"]
    _change_as(admin_user, resource, obj, other, other_value)

    patch = client.patch(_url(resource, obj.pk), {field: value}, format="json", HTTP_IF_MATCH=etag)
    delete = client.delete(_url(resource, obj.pk), HTTP_IF_MATCH=etag)

    assert patch.status_code == 412
    assert "changed by admin at" in patch.json()["detail"]
    assert delete.status_code == 412
    stored = model.objects.get(pk=obj.pk)
    assert getattr(stored, field) != value


@pytest.mark.parametrize("resource", RESOURCES)
def test_the_current_etag_writes_and_answers_with_the_next_one(api, pm, resource):
    make, _, model, field, value, *_ = RESOURCES[resource]
    obj = make(pm)
    client = api(pm)
    etag = client.get(_url(resource, obj.pk)).headers["ETag"]

    response = client.patch(
        _url(resource, obj.pk), {field: value}, format="json", HTTP_IF_MATCH=etag
    )

    stored = model.objects.get(pk=obj.pk)
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{stored.version}"' != etag
    assert response.json()["version"] == stored.version
    assert getattr(stored, field) == value
    assert client.delete(
        _url(resource, obj.pk), HTTP_IF_MATCH=response.headers["ETag"]
    ).status_code in (204, 409)


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_malformed_if_match_is_a_400_and_writes_nothing(api, pm, resource):
    make, _, model, field, value, *_ = RESOURCES[resource]
    obj = make(pm)

    response = api(pm).patch(
        _url(resource, obj.pk), {field: value}, format="json", HTTP_IF_MATCH="version seven"
    )

    assert response.status_code == 400
    assert getattr(model.objects.get(pk=obj.pk), field) != value


@pytest.mark.parametrize("resource", ["projects", "features"])
def test_changing_the_links_moves_the_owners_version_on(api, pm, resource):
    make, _, model, *_ = RESOURCES[resource]
    obj = make(pm)
    strategy = CRMStrategyFactory()
    client = api(pm)
    etag = client.get(_url(resource, obj.pk)).headers["ETag"]

    linked = client.patch(
        _url(resource, obj.pk),
        {"links": [{"crm_strategy": strategy.pk, "rationale": "Serves it by registering deals."}]},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    stale = client.patch(
        _url(resource, obj.pk), {"crm_strategies": []}, format="json", HTTP_IF_MATCH=etag
    )

    assert linked.status_code == 200
    assert linked.headers["ETag"] != etag
    assert model.objects.get(pk=obj.pk).updated_by == pm
    assert stale.status_code == 412
    assert model.objects.get(pk=obj.pk).links.get().crm_strategy == strategy


def test_sending_only_ids_keeps_a_rationale_changed_since_the_client_read(api, pm, admin_user):
    project = ProjectFactory(manager=pm)
    strategy = CRMStrategyFactory()
    services.project_set_links(
        actor=pm,
        project_id=project.pk,
        links=[LinkSpec(strategy.pk, "First rationale, by the manager.")],
    )
    client = api(pm)
    client.get(_url("projects", project.pk))
    services.project_set_links(
        actor=admin_user,
        project_id=project.pk,
        links=[LinkSpec(strategy.pk, "Better rationale, by an admin.")],
    )

    response = client.patch(
        _url("projects", project.pk), {"crm_strategies": [strategy.pk]}, format="json"
    )

    assert response.status_code == 200
    assert project.links.get().rationale == "Better rationale, by an admin."
