"""Strategy pages: CRM strategies (what they serve, their capabilities) and business strategies."""

import pytest
from django.urls import reverse

from core.money import format_money
from goals.models import GoalStatus
from strategies.models import BusinessStrategy, CRMStrategy, StrategyStatus
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    GoalFactory,
    ProjectLinkFactory,
)

pytestmark = pytest.mark.django_db

READERS = ["executive", "pm", "sponsor", "viewer", "admin_user"]
NOT_EXECUTIVES = ["pm", "sponsor", "viewer"]


@pytest.mark.parametrize("role", READERS)
def test_every_role_reads_the_strategy_pages(request, as_user, role):
    crm = CRMStrategyFactory(title="Enable local partners")
    business = crm.business_strategies.get()
    client = as_user(request.getfixturevalue(role))

    assert "Enable local partners" in client.get(reverse("strategies:list")).content.decode()
    assert business.title in client.get(reverse("strategies:business_list")).content.decode()
    assert client.get(reverse("strategies:crm_detail", args=[crm.pk])).status_code == 200
    assert client.get(reverse("strategies:business_detail", args=[business.pk])).status_code == 200


def test_a_user_without_a_role_finds_no_strategies(as_user, nobody):
    crm = CRMStrategyFactory()
    client = as_user(nobody)

    assert client.get(reverse("strategies:list")).status_code == 404
    assert client.get(reverse("strategies:business_list")).status_code == 404
    assert client.get(reverse("strategies:crm_detail", args=[crm.pk])).status_code == 404


def test_the_crm_list_filters_the_unanchored(as_user, viewer):
    CRMStrategyFactory(title="Anchored one")
    CRMStrategyFactory(title="Floating tool", serves=[])

    html = (
        as_user(viewer).get(reverse("strategies:list"), {"is_anchored": "false"}).content.decode()
    )

    assert "Floating tool" in html
    assert "Anchored one" not in html


def test_the_business_list_filters_by_goal(as_user, viewer):
    mine = BusinessStrategyFactory(title="Under goal A")
    BusinessStrategyFactory(title="Under goal B")

    html = (
        as_user(viewer)
        .get(reverse("strategies:business_list"), {"goal": str(mine.goal_id)})
        .content.decode()
    )

    assert "Under goal A" in html
    assert "Under goal B" not in html


def test_the_crm_list_makes_the_same_queries_for_2_and_50(
    as_user, viewer, queries_for, django_assert_num_queries
):
    client = as_user(viewer)
    CRMStrategyFactory.create_batch(2)
    baseline = queries_for(reverse("strategies:list"))
    for crm in CRMStrategyFactory.create_batch(48):
        ProjectLinkFactory(crm_strategy=crm)

    with django_assert_num_queries(baseline):
        client.get(reverse("strategies:list"))


def test_the_business_list_makes_the_same_queries_for_2_and_50(
    as_user, viewer, queries_for, django_assert_num_queries
):
    client = as_user(viewer)
    BusinessStrategyFactory.create_batch(2)
    baseline = queries_for(reverse("strategies:business_list"))
    for business in BusinessStrategyFactory.create_batch(48):
        CRMStrategyFactory(serves=[business])

    with django_assert_num_queries(baseline):
        client.get(reverse("strategies:business_list"))


def test_a_crm_strategy_page_shows_what_it_serves_and_the_projects_linked(
    as_user, viewer, settings
):
    settings.CURRENCY = "SEK"
    link = ProjectLinkFactory(rationale="Partners register deals here")
    crm = link.crm_strategy

    html = as_user(viewer).get(reverse("strategies:crm_detail", args=[crm.pk])).content.decode()

    assert crm.business_strategies.get().title in html
    assert link.project.title in html
    assert "Partners register deals here" in html
    assert format_money(link.project.budget_total, "SEK") in html  # the project's budget
    assert reverse("strategies:crm_edit", args=[crm.pk]) not in html


# --- executives write -------------------------------------------------------------------


def test_an_executive_creates_a_business_strategy_under_a_goal(as_user, executive):
    goal = GoalFactory()

    response = as_user(executive).post(
        reverse("strategies:business_create"),
        {"goal": goal.pk, "title": "Emerging markets", "scope": "Emerging", "status": "active"},
    )

    strategy = BusinessStrategy.objects.get()
    assert response.status_code == 302
    assert (strategy.goal, strategy.owner) == (goal, executive)


def test_the_new_business_strategy_form_preselects_the_goal(as_user, executive):
    goal = GoalFactory(title="Grow revenue")

    html = (
        as_user(executive)
        .get(reverse("strategies:business_create"), {"goal": goal.pk})
        .content.decode()
    )

    assert f'<option value="{goal.pk}" selected>Grow revenue</option>' in html


def test_a_business_strategy_needs_a_goal(as_user, executive):
    response = as_user(executive).post(
        reverse("strategies:business_create"), {"title": "Orphan", "status": "draft"}
    )

    assert "Goal: This field is required." in response.content.decode()
    assert not BusinessStrategy.objects.exists()


def test_a_retired_goal_is_not_offered_for_a_new_business_strategy(as_user, executive):
    retired = GoalFactory(status=GoalStatus.RETIRED)

    response = as_user(executive).post(
        reverse("strategies:business_create"),
        {"goal": retired.pk, "title": "Too late", "status": "draft"},
    )

    assert "Select a valid choice" in response.content.decode()
    assert not BusinessStrategy.objects.exists()


def test_an_executive_creates_a_crm_strategy_serving_business_strategies(as_user, executive):
    first, second = BusinessStrategyFactory.create_batch(2)

    response = as_user(executive).post(
        reverse("strategies:crm_create"),
        {
            "title": "Enable local partners",
            "status": "active",
            "customer_need": "Local knowledge",
            "capability_people": "Partner managers",
            "capability_process": "Partner onboarding",
            "capability_technology": "Partner portal",
            "business_strategies": [first.pk, second.pk],
        },
    )

    crm = CRMStrategy.objects.get()
    assert response.status_code == 302
    assert set(crm.business_strategies.all()) == {first, second}
    assert crm.capability_people == "Partner managers"


def test_editing_a_crm_strategy_replaces_what_it_serves(as_user, executive):
    old, new = BusinessStrategyFactory.create_batch(2)
    crm = CRMStrategyFactory(serves=[old], owner=executive)

    as_user(executive).post(
        reverse("strategies:crm_edit", args=[crm.pk]),
        {
            "title": crm.title,
            "status": "active",
            "owner": executive.pk,
            "business_strategies": [new.pk],
            "version": crm.version,
        },
    )

    assert list(crm.business_strategies.all()) == [new]


def test_the_crm_edit_form_ticks_what_it_serves_today(as_user, executive):
    served = BusinessStrategyFactory()
    crm = CRMStrategyFactory(serves=[served])

    html = as_user(executive).get(reverse("strategies:crm_edit", args=[crm.pk])).content.decode()

    assert f'value="{served.pk}" id="id_business_strategies_0" checked' in html


def test_a_crm_strategy_with_a_duplicate_title_is_refused_naming_the_field(as_user, executive):
    CRMStrategyFactory(title="Taken")

    response = as_user(executive).post(
        reverse("strategies:crm_create"), {"title": "Taken", "status": "draft"}
    )

    assert "Title: A CRM strategy named “Taken” already exists." in response.content.decode()
    assert CRMStrategy.objects.count() == 1


def test_an_executive_retires_strategies(as_user, executive):
    crm = CRMStrategyFactory()
    business = crm.business_strategies.get()
    client = as_user(executive)

    client.post(reverse("strategies:crm_retire", args=[crm.pk]))
    client.post(reverse("strategies:business_retire", args=[business.pk]))

    crm.refresh_from_db()
    business.refresh_from_db()
    assert crm.status == business.status == StrategyStatus.RETIRED


@pytest.mark.parametrize("kind", ["crm", "business"])
def test_a_retirement_the_service_refuses_is_reported_not_a_500(as_user, executive, kind):
    crm = CRMStrategyFactory()
    strategy = crm if kind == "crm" else crm.business_strategies.get()
    # Data written before a validation rule existed: the service's full_clean refuses it.
    type(strategy).objects.filter(pk=strategy.pk).update(title="")

    response = as_user(executive).post(
        reverse(f"strategies:{kind}_retire", args=[strategy.pk]), follow=True
    )

    strategy.refresh_from_db()
    assert response.status_code == 200
    assert "Title" in response.content.decode()
    assert strategy.status == StrategyStatus.ACTIVE


@pytest.mark.parametrize("role", NOT_EXECUTIVES)
def test_only_executives_reach_strategy_forms(request, as_user, role):
    crm = CRMStrategyFactory()
    business = crm.business_strategies.get()
    client = as_user(request.getfixturevalue(role))

    for url in [
        reverse("strategies:crm_create"),
        reverse("strategies:crm_edit", args=[crm.pk]),
        reverse("strategies:business_create"),
        reverse("strategies:business_edit", args=[business.pk]),
    ]:
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("strategies:crm_retire", args=[crm.pk])).status_code == 403
    assert client.post(reverse("strategies:business_retire", args=[business.pk])).status_code == 403
    crm.refresh_from_db()
    assert crm.status == StrategyStatus.ACTIVE
