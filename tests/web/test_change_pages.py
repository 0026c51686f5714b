"""Changes that can break chains ask first: the confirmation page lists what would lose its chain
(projects with budget and currency, features) and which flags would open — or, to reactivate,
what would trace again — before anything is saved; Cancel changes nothing, Confirm makes the
change through the service. Works without JavaScript (a page and a form)."""

import re
from html import unescape

import pytest
from django.urls import reverse

from alignment import engine
from alignment.models import Flag
from goals.models import BusinessGoal
from projects.models import CRMProject, ProjectLink
from strategies.models import BusinessStrategy, CRMStrategy
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    FeatureFactory,
    FeatureLinkFactory,
    GoalFactory,
    ProjectFactory,
    ProjectLinkFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(executive, pm):
    goal = GoalFactory(owner=executive, title="Grow revenue")
    business = BusinessStrategyFactory(goal=goal, title="Emerging markets", status="active")
    crm = CRMStrategyFactory(title="Enable partners", serves=[business], status="active")
    projects = []
    for title in ("Partner portal", "Partner fund", "Certification"):
        project = ProjectFactory(title=title, manager=pm, status="active")
        ProjectLinkFactory(project=project, crm_strategy=crm)
        FeatureLinkFactory(feature=FeatureFactory(project=project), crm_strategy=crm)
        projects.append(project)
    engine.scan_full()
    return goal, business, crm, projects


def page_text(response) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def change_url(kind, pk, change):
    return reverse(f"alignment:change_{kind}", kwargs={"pk": pk, "change": change})


def test_retiring_shows_the_projects_with_budgets_and_the_flags_then_cancel_changes_nothing(
    as_user, executive, chain, django_capture_on_commit_callbacks
):
    _goal, business, crm, projects = chain
    client = as_user(executive)
    detail = client.get(business.get_absolute_url())
    url = change_url("business_strategy", business.pk, "retire")
    assert url in detail.content.decode()  # the Retire… button opens the preview
    version = business.version
    with django_capture_on_commit_callbacks() as callbacks:
        page = client.get(url)
    assert page.status_code == 200
    assert callbacks == []
    text = page_text(page)
    assert "3 projects" in text
    for project in projects:
        assert project.title in text
    total = sum(p.budget_total for p in projects)
    assert f"{total:,.2f}" in text and "EUR" in text
    assert "CRM strategy serves no active business strategy" in text and crm.title in text
    assert "Feature traces to no active goal" in text
    business.refresh_from_db()
    assert business.status == "active" and business.version == version
    # Cancel is a link back: following it changes nothing either.
    assert f'href="{business.get_absolute_url()}"' in page.content.decode()


def test_confirming_retires_through_the_service_and_records_who_and_when(as_user, executive, chain):
    _goal, business, _crm, _projects = chain
    response = as_user(executive).post(
        change_url("business_strategy", business.pk, "retire"), {"version": business.version}
    )
    assert response.status_code == 302 and response["Location"] == business.get_absolute_url()
    business.refresh_from_db()
    assert business.status == "retired"
    assert business.status_changed_by == executive and business.status_changed_at


def test_a_stale_confirmation_is_refused(as_user, executive, chain):
    _goal, business, _crm, _projects = chain
    response = as_user(executive).post(
        change_url("business_strategy", business.pk, "retire"),
        {"version": business.version - 1 if business.version > 1 else 99},
        follow=True,
    )
    business.refresh_from_db()
    assert business.status == "active"
    assert "since you opened it" in page_text(response)


def test_reactivating_previews_what_traces_again_and_the_button_is_on_the_page(
    as_user, executive, chain
):
    from strategies import services

    _goal, business, _crm, projects = chain
    services.business_strategy_update(
        actor=executive, business_strategy_id=business.pk, changes={"status": "retired"}
    )
    engine.scan_full()
    client = as_user(executive)
    url = change_url("business_strategy", business.pk, "reactivate")
    assert url in client.get(business.get_absolute_url()).content.decode()
    text = page_text(client.get(url))
    assert "Projects that would trace again" in text
    assert all(p.title in text for p in projects)
    assert "Flags that would close" in text and "CRM strategy serves no active" in text
    business.refresh_from_db()
    response = client.post(url, {"version": business.version})
    assert response.status_code == 302
    business.refresh_from_db()
    assert business.status == "active"


def test_deleting_a_childless_draft_and_refusing_one_with_children(as_user, executive, chain):
    goal, business, _crm, _projects = chain
    client = as_user(executive)
    draft = GoalFactory(owner=executive, status="draft", title="Someday")
    url = change_url("goal", draft.pk, "delete")
    assert url in client.get(draft.get_absolute_url()).content.decode()
    assert client.get(url).status_code == 200
    response = client.post(url, {"version": draft.version})
    assert response["Location"] == reverse("goals:list")
    assert not BusinessGoal.objects.filter(pk=draft.pk).exists()
    # With a strategy under it the page says why, offers no button, and nothing happens.
    page = client.get(change_url("goal", goal.pk, "delete"))
    assert "This cannot be done" in page_text(page)
    assert "button--danger" not in page.content.decode().split('id="impact"')[1]
    client.post(change_url("goal", goal.pk, "delete"), {"version": goal.version})
    assert BusinessGoal.objects.filter(pk=goal.pk).exists()
    assert BusinessStrategy.objects.filter(pk=business.pk).exists()


def test_a_crm_strategy_stops_serving_one_business_strategy(as_user, executive, chain):
    _goal, business, crm, _projects = chain
    client = as_user(executive)
    url = change_url("crm_strategy", crm.pk, "unserve") + f"?business_strategy={business.pk}"
    assert url.replace("&", "&amp;") in client.get(crm.get_absolute_url()).content.decode()
    assert "3 projects" in page_text(client.get(url))
    assert client.post(url, {"version": crm.version}).status_code == 302
    assert not CRMStrategy.objects.get(pk=crm.pk).business_strategies.exists()
    # Which one to stop serving must be said, and be one it serves.
    assert client.get(change_url("crm_strategy", crm.pk, "unserve")).status_code == 404
    other = BusinessStrategyFactory()
    bad = change_url("crm_strategy", crm.pk, "unserve") + f"?business_strategy={other.pk}"
    assert client.get(bad).status_code == 404


def test_a_project_manager_unlinks_and_cancels_a_project_after_seeing_the_impact(
    as_user, pm, chain
):
    _goal, _business, crm, projects = chain
    project = projects[0]
    client = as_user(pm)
    detail = client.get(project.get_absolute_url()).content.decode()
    unlink = change_url("project", project.pk, "unlink") + f"?crm_strategy={crm.pk}"
    assert unlink in detail and change_url("project", project.pk, "cancel") in detail
    text = page_text(client.get(unlink))
    assert "1 project" in text and project.title in text
    assert "Project serves no CRM strategy" in text
    assert client.post(unlink, {"version": project.version}).status_code == 302
    assert not ProjectLink.objects.filter(project=project).exists()
    cancel = change_url("project", project.pk, "cancel")
    text = page_text(client.get(cancel))
    assert "No live project would lose its chain" in text
    project.refresh_from_db()
    client.post(cancel, {"version": project.version})
    assert CRMProject.objects.get(pk=project.pk).status == "cancelled"


def test_who_may_not_make_the_change_may_not_preview_it(
    as_user, viewer, pm, other_pm, nobody, chain
):
    _goal, business, _crm, projects = chain
    url = change_url("business_strategy", business.pk, "retire")
    assert as_user(viewer).get(url).status_code == 403
    assert as_user(pm).get(url).status_code == 403
    assert as_user(nobody).get(url).status_code == 404
    assert as_user(other_pm).get(change_url("project", projects[0].pk, "cancel")).status_code == (
        403
    )
    assert as_user(pm).post(url).status_code == 403
    assert BusinessStrategy.objects.get(pk=business.pk).status == "active"


def test_an_unknown_change_is_not_found(as_user, executive, chain):
    goal = chain[0]
    assert as_user(executive).get(change_url("goal", goal.pk, "explode")).status_code == 404
    assert as_user(executive).get(change_url("goal", goal.pk, "unlink")).status_code == 404


def test_the_page_shows_no_flag_changes_for_a_harmless_change(as_user, executive):
    goal = GoalFactory(owner=executive, status="draft")
    text = page_text(as_user(executive).get(change_url("goal", goal.pk, "retire")))
    assert "No live project would lose its chain" in text and "No flag would open" in text
    assert not Flag.objects.exists()
