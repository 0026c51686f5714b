"""Project services take ids and changes: they load the stored row, decide on it, refuse a
stale version, write only what changed and move the version on — also when only links change."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.services import EditConflict
from projects import services
from projects.models import CRMProject, Feature
from projects.services import LinkSpec
from tests.factories import (
    CRMStrategyFactory,
    FeatureFactory,
    FeatureLinkFactory,
    ProjectFactory,
    ProjectLinkFactory,
)

pytestmark = pytest.mark.django_db


def test_a_handed_over_project_is_no_longer_the_old_managers_to_edit(pm, other_pm):
    project = ProjectFactory(manager=pm)

    services.project_update(actor=pm, project_id=project.pk, changes={"manager": other_pm})

    with pytest.raises(PermissionDenied):
        services.project_update(actor=pm, project_id=project.pk, changes={"title": "Back"})
    services.project_update(actor=other_pm, project_id=project.pk, changes={"title": "Mine"})
    assert CRMProject.objects.get(pk=project.pk).title == "Mine"


def test_an_update_writes_only_the_fields_that_changed(pm):
    project = ProjectFactory(manager=pm, description="Unchanged")

    with CaptureQueriesContext(connection) as queries:
        services.project_update(
            actor=pm,
            project_id=project.pk,
            changes={"title": "Renamed", "description": "Unchanged"},
        )

    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    assert '"title"' in updates[0] and '"version"' in updates[0]
    assert '"description"' not in updates[0] and '"budget_technology"' not in updates[0]


def test_an_update_from_a_stale_version_is_refused_and_writes_nothing(pm, other_pm):
    project = ProjectFactory(manager=pm)
    services.project_update(actor=pm, project_id=project.pk, changes={"title": "Newer"})

    with pytest.raises(EditConflict) as caught:
        services.project_update(
            actor=pm, project_id=project.pk, changes={"title": "Older"}, version=project.version
        )

    assert "changed by" in str(caught.value)
    stored = CRMProject.objects.get(pk=project.pk)
    assert (stored.title, stored.version) == ("Newer", project.version + 1)


def test_nothing_changed_writes_nothing_and_keeps_the_version(pm):
    project = ProjectFactory(manager=pm)

    services.project_update(actor=pm, project_id=project.pk, changes={"title": project.title})

    assert CRMProject.objects.get(pk=project.pk).version == project.version


def test_changing_a_projects_links_moves_its_version_on_and_says_who(pm):
    project = ProjectFactory(manager=pm)
    strategy = CRMStrategyFactory()

    services.project_set_links(
        actor=pm, project_id=project.pk, links=[LinkSpec(strategy.pk, "Partners register deals.")]
    )

    stored = CRMProject.objects.get(pk=project.pk)
    assert (stored.version, stored.updated_by) == (project.version + 1, pm)


def test_setting_the_same_links_again_keeps_the_version(pm):
    link = ProjectLinkFactory(project__manager=pm, rationale="Serves it", weight=None)

    services.project_set_links(
        actor=pm,
        project_id=link.project_id,
        links=[LinkSpec(link.crm_strategy_id, "Serves it")],
    )

    assert CRMProject.objects.get(pk=link.project_id).version == link.project.version


def test_changing_a_features_links_moves_its_version_on(pm):
    link = FeatureLinkFactory(feature__project__manager=pm)

    services.feature_set_links(actor=pm, feature_id=link.feature_id, links=[])

    assert Feature.objects.get(pk=link.feature_id).version == link.feature.version + 1
    assert not link.feature.links.exists()


def test_links_set_from_a_stale_version_are_refused(pm):
    project = ProjectFactory(manager=pm)
    services.project_update(actor=pm, project_id=project.pk, changes={"title": "Moved on"})

    with pytest.raises(EditConflict):
        services.project_set_links(
            actor=pm,
            project_id=project.pk,
            links=[LinkSpec(CRMStrategyFactory().pk, "Partners register deals.")],
            version=project.version,
        )

    assert not project.links.exists()


def test_a_kept_link_keeps_its_stored_rationale_and_a_new_one_by_id_alone_is_refused(pm):
    link = ProjectLinkFactory(project__manager=pm, rationale="Stored", weight=40)
    new = CRMStrategyFactory(title="Retention")

    services.project_set_links(
        actor=pm, project_id=link.project_id, links=[LinkSpec(link.crm_strategy_id, keep=True)]
    )
    with pytest.raises(ValidationError) as caught:
        services.project_set_links(
            actor=pm,
            project_id=link.project_id,
            links=[LinkSpec(link.crm_strategy_id, keep=True), LinkSpec(new.pk, keep=True)],
        )

    links = {row.crm_strategy_id: (row.rationale, row.weight) for row in link.project.links.all()}
    assert links == {link.crm_strategy_id: ("Stored", 40)}
    assert "A new link needs its rationale" in caught.value.message_dict["crm_strategies"][0]
    assert "Retention" in caught.value.message_dict["crm_strategies"][0]


def test_a_link_to_a_crm_strategy_that_does_not_exist_is_refused_naming_it_as_a_conflict(pm):
    """Callers check ids first (serializers, forms); one missing here was deleted meanwhile,
    so it is a conflict (409 in the API), and nothing is linked."""
    project = ProjectFactory(manager=pm)

    with pytest.raises(ValidationError) as caught:
        services.project_set_links(actor=pm, project_id=project.pk, links=[LinkSpec(999999)])

    assert caught.value.code == "stale"
    assert "999999" in caught.value.messages[0]
    assert not project.links.exists()


def test_a_reorder_moves_the_version_of_the_features_that_moved_only(pm):
    project = ProjectFactory(manager=pm)
    a, b, c = (FeatureFactory(project=project, position=i) for i in range(3))

    services.feature_reorder(actor=pm, project_id=project.pk, feature_ids=[b.pk, a.pk, c.pk])

    stored = {f.pk: (f.position, f.version, f.updated_by) for f in project.features.all()}
    assert stored == {a.pk: (1, 2, pm), b.pk: (0, 2, pm), c.pk: (2, 1, None)}


@pytest.mark.parametrize(("direction", "expected"), [("up", [1, 0, 2]), ("down", [0, 2, 1])])
def test_a_feature_moves_one_place(pm, direction, expected):
    project = ProjectFactory(manager=pm)
    features = [FeatureFactory(project=project, position=i) for i in range(3)]

    services.feature_move(actor=pm, feature_id=features[1].pk, direction=direction)

    order = list(project.features.order_by("position").values_list("pk", flat=True))
    assert order == [features[i].pk for i in expected]


def test_a_feature_at_the_top_does_not_move_up(pm):
    top = FeatureFactory(project__manager=pm, position=0)

    services.feature_move(actor=pm, feature_id=top.pk, direction="up")

    assert Feature.objects.get(pk=top.pk).version == top.version


def test_a_feature_cannot_be_moved_by_someone_who_may_not_edit_its_project(other_pm):
    feature = FeatureFactory()

    with pytest.raises(PermissionDenied):
        services.feature_move(actor=other_pm, feature_id=feature.pk, direction="up")
