"""Project pages opened before someone else saved: the save is refused with who changed what,
the person's input is kept next to the value saved meanwhile, nothing is written, and saving
again (with the version the page now carries) replaces it knowingly."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from projects import services
from projects.models import CRMProject, Feature, RoadmapPhase, SuccessMetric
from projects.services import LinkSpec
from tests.factories import (
    CRMStrategyFactory,
    FeatureFactory,
    ProjectFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def colleague(db):
    """An admin who edits the same things meanwhile (admins may edit any project)."""
    user = UserFactory(username="ada", first_name="Ada", last_name="Lovelace")
    user.is_superuser = True
    user.save()
    return user


def _edit_data(project: CRMProject, **changes) -> dict:
    """What the project's edit form posts for the stored project, with `changes` typed in."""
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
        "version": project.version,
    }
    data.update(changes)
    return data


def _version_on_page(html: str, name: str = "version") -> int:
    match = re.search(rf'name="{re.escape(name)}" value="(\d+)"', html)
    assert match, f"no hidden {name} on the page"
    return int(match.group(1))


def test_the_edit_form_carries_the_version_it_was_opened_at(as_user, pm):
    project = ProjectFactory(manager=pm)
    CRMProject.objects.filter(pk=project.pk).update(version=7)

    page = as_user(pm).get(reverse("projects:edit", args=[project.pk])).content.decode()

    assert _version_on_page(page) == 7
    assert ">Version<" not in page  # hidden, not a labelled input


def test_two_tabs_the_second_save_is_refused_then_replaces_knowingly(as_user, pm, colleague):
    project = ProjectFactory(
        manager=pm, sponsor=None, title="Partner portal", description="First draft"
    )
    opened = CRMProject.objects.get(pk=project.pk)  # both tabs open the form at this version
    url = reverse("projects:edit", args=[project.pk])
    tab_one = Client()
    tab_one.force_login(colleague)
    tab_one_saved = tab_one.post(url, _edit_data(opened, title="Partner portal 2.0"))
    assert tab_one_saved.status_code == 302

    tab_two = as_user(pm)
    refused = tab_two.post(url, _edit_data(opened, description="Tab two's description"))

    html = refused.content.decode()
    stored = CRMProject.objects.get(pk=project.pk)
    assert refused.status_code == 200
    assert "changed by Ada Lovelace at" in html
    assert "since you opened it" in html
    assert "Tab two&#x27;s description</textarea>" in html  # the person's input is kept
    assert 'name="title" value="Partner portal"' in html  # …including the title they saw
    assert "Saved meanwhile by Ada Lovelace: “Partner portal 2.0”" in html  # tab one's value
    assert (stored.title, stored.description) == ("Partner portal 2.0", "First draft")
    assert _version_on_page(html) == stored.version

    again = tab_two.post(
        url,
        _edit_data(opened, description="Tab two's description", version=_version_on_page(html)),
    )

    stored.refresh_from_db()
    assert again.status_code == 302
    assert (stored.title, stored.description) == ("Partner portal", "Tab two's description")
    assert stored.updated_by == pm


def test_a_feature_edited_inline_from_a_stale_row_is_refused_and_kept(as_user, pm, colleague):
    feature = FeatureFactory(project__manager=pm, title="Deal registration")
    opened_at = feature.version
    services.feature_update(
        actor=colleague, feature_id=feature.pk, changes={"title": "Deal registration v2"}
    )
    prefix = f"feature-{feature.pk}"

    response = as_user(pm).post(
        reverse("projects:feature_edit", args=[feature.pk]),
        {
            f"{prefix}-title": "Deal desk",
            f"{prefix}-priority": "1",
            f"{prefix}-status": "planned",
            f"{prefix}-version": opened_at,
        },
        **HTMX,
    )

    html = response.content.decode()
    feature.refresh_from_db()
    assert response.status_code == 200
    assert "changed by Ada Lovelace at" in html
    assert f'name="{prefix}-title" value="Deal desk"' in html
    assert "Saved meanwhile by Ada Lovelace: “Deal registration v2”" in html
    assert (feature.title, feature.status) == ("Deal registration v2", "proposed")
    assert _version_on_page(html, f"{prefix}-version") == feature.version


@pytest.mark.parametrize(
    ("kind", "make", "url_name", "field", "typed", "meanwhile"),
    [
        ("metric", SuccessMetricFactory, "projects:metric_edit", "name", "Win rate", "NPS"),
        ("phase", RoadmapPhaseFactory, "projects:phase_edit", "name", "Pilot", "Rollout"),
    ],
)
def test_a_metric_or_phase_saved_from_a_stale_page_is_refused_and_kept(
    as_user, pm, colleague, kind, make, url_name, field, typed, meanwhile
):
    item = make(project__manager=pm)
    opened_at = item.version
    update = services.metric_update if kind == "metric" else services.phase_update
    update(actor=colleague, **{f"{kind}_id": item.pk}, changes={field: meanwhile})
    data = {field: typed, "version": opened_at}
    data.update({"kind": "phase"} if kind == "phase" else {"baseline": "1", "target": "2"})
    client = as_user(pm)

    response = client.post(reverse(url_name, args=[item.pk]), data)

    html = response.content.decode()
    model = SuccessMetric if kind == "metric" else RoadmapPhase
    assert response.status_code == 200
    assert "changed by Ada Lovelace at" in html
    assert f'value="{typed}"' in html
    assert f"Saved meanwhile by Ada Lovelace: “{meanwhile}”" in html
    assert getattr(model.objects.get(pk=item.pk), field) == meanwhile

    data["version"] = _version_on_page(html)
    assert client.post(reverse(url_name, args=[item.pk]), data).status_code == 302
    assert getattr(model.objects.get(pk=item.pk), field) == typed


def test_links_picked_on_a_stale_project_page_are_refused_naming_the_links_now(
    as_user, pm, colleague
):
    project = ProjectFactory(manager=pm)
    mine, theirs = CRMStrategyFactory(title="Partners sell"), CRMStrategyFactory(title="Top 100")
    url = reverse("projects:links", args=[project.pk])
    client = as_user(pm)
    page = client.get(url).content.decode()
    services.project_set_links(
        actor=colleague,
        project_id=project.pk,
        links=[LinkSpec(theirs.pk, "Key accounts see one plan.")],
    )
    picked = {
        f"links-use_{mine.pk}": "on",
        f"links-rationale_{mine.pk}": "Partners register deals",
        "links-version": _version_on_page(page, "links-version"),
    }

    refused = client.post(url, picked)

    html = refused.content.decode()
    assert refused.status_code == 200
    assert "changed by Ada Lovelace at" in html
    assert "Linked now: Top 100." in html
    assert 'value="Partners register deals"' in html
    assert list(project.links.values_list("crm_strategy__title", flat=True)) == ["Top 100"]

    picked["links-version"] = _version_on_page(html, "links-version")
    assert client.post(url, picked).status_code == 302
    assert list(project.links.values_list("crm_strategy__title", flat=True)) == ["Partners sell"]


def test_links_picked_inline_for_a_stale_feature_are_refused(as_user, pm, colleague):
    feature = FeatureFactory(project__manager=pm)
    strategy = CRMStrategyFactory(title="Partners sell")
    opened_at = feature.version
    services.feature_update(actor=colleague, feature_id=feature.pk, changes={"priority": 1})
    prefix = f"links-{feature.pk}"

    response = as_user(pm).post(
        reverse("projects:feature_links", args=[feature.pk]),
        {
            f"{prefix}-use_{strategy.pk}": "on",
            f"{prefix}-rationale_{strategy.pk}": "Partners register their deals.",
            f"{prefix}-version": opened_at,
        },
        **HTMX,
    )

    assert response.status_code == 200
    assert "changed by Ada Lovelace at" in response.content.decode()
    assert "Linked now: nothing." in response.content.decode()
    assert not Feature.objects.get(pk=feature.pk).links.exists()
