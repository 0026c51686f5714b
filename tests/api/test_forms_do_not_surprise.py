"""The API refuses what the page forms refuse, with the same messages: a status the service
refuses, a title that differs from an existing one only in case (naming it), an over-long
value (naming the field and its limit), and a link without a real rationale."""

import pytest
from django.urls import reverse

from goals.models import BusinessGoal
from projects.models import CRMProject, Feature
from projects.services import RATIONALE_RULE, WEIGHT_MEANING
from strategies.models import BusinessStrategy, CRMStrategy
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    FeatureFactory,
    GoalFactory,
    ProjectFactory,
    ProjectLinkFactory,
)

pytestmark = pytest.mark.django_db


def test_a_new_project_cannot_start_active(api, pm):
    response = api(pm).post(
        reverse("api:project-list"), {"title": "Eager", "status": "active"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"status": ["A project must be approved before it becomes active."]}
    assert not CRMProject.objects.exists()


# --- titles unique ignoring case -----------------------------------------------------------


def test_a_project_title_differing_only_in_case_is_a_400_naming_the_existing_one(api, pm):
    ProjectFactory(title="CRM Rollout")

    response = api(pm).post(reverse("api:project-list"), {"title": "crm ROLLOUT"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"title": ["A project named “CRM Rollout” already exists."]}
    assert CRMProject.objects.count() == 1


def test_renaming_a_project_onto_another_title_in_other_case_is_a_400(api, pm):
    ProjectFactory(title="CRM Rollout")
    mine = ProjectFactory(manager=pm, title="Partner portal")

    response = api(pm).patch(
        reverse("api:project-detail", args=[mine.pk]), {"title": "Crm Rollout"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"title": ["A project named “CRM Rollout” already exists."]}
    mine.refresh_from_db()
    assert mine.title == "Partner portal"


def test_a_goal_title_differing_only_in_case_is_a_400(api, executive):
    GoalFactory(title="Grow revenue")

    response = api(executive).post(
        reverse("api:goal-list"), {"title": "grow Revenue"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"title": ["A goal named “Grow revenue” already exists."]}
    assert BusinessGoal.objects.count() == 1


def test_a_crm_strategy_title_differing_only_in_case_is_a_400(api, executive):
    CRMStrategyFactory(title="Enable local partners")

    response = api(executive).post(
        reverse("api:crm-strategy-list"), {"title": "ENABLE local partners"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "title": ["A CRM strategy named “Enable local partners” already exists."]
    }
    assert CRMStrategy.objects.count() == 1


def test_a_business_strategy_title_differing_only_in_case_within_its_goal_is_a_400(api, executive):
    existing = BusinessStrategyFactory(title="Emerging markets")

    response = api(executive).post(
        reverse("api:business-strategy-list"),
        {"goal": existing.goal_id, "title": "EMERGING markets"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "title": [
            f"The goal “{existing.goal.title}” already has a business strategy named "
            "“Emerging markets”."
        ]
    }
    assert BusinessStrategy.objects.count() == 1


def test_a_feature_title_differing_only_in_case_within_its_project_is_a_400(api, pm):
    existing = FeatureFactory(project__manager=pm, title="Deal registration")

    response = api(pm).post(
        reverse("api:feature-list"),
        {"project": existing.project_id, "title": "deal REGISTRATION"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "title": ["This project already has a feature named “Deal registration”."]
    }
    assert Feature.objects.count() == 1


# --- a link's rationale is required ----------------------------------------------------------


def test_a_link_with_a_one_word_rationale_is_a_400_under_its_index(api, pm, chain):
    second = CRMStrategyFactory()

    response = api(pm).post(
        reverse("api:project-list"),
        {
            "title": "Partner portal",
            "links": [
                {"crm_strategy": chain[2].pk, "rationale": "Partners register their deals."},
                {"crm_strategy": second.pk, "rationale": "CRM"},
            ],
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "links": {"1": {"rationale": [f"“CRM” is too short to be a rationale. {RATIONALE_RULE}"]}}
    }
    assert not CRMProject.objects.exists()


def test_a_feature_link_without_a_rationale_is_a_400(api, pm, chain):
    feature = FeatureFactory(project__manager=pm)

    response = api(pm).patch(
        reverse("api:feature-detail", args=[feature.pk]),
        {"links": [{"crm_strategy": chain[2].pk}]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "links": {"0": {"rationale": [f"A rationale is required. {RATIONALE_RULE}"]}}
    }
    assert not feature.links.exists()


def test_a_link_stored_with_a_short_rationale_may_be_sent_back_unchanged(api, pm, chain):
    link = ProjectLinkFactory(project__manager=pm, crm_strategy=chain[2], rationale="Old")

    response = api(pm).patch(
        reverse("api:project-detail", args=[link.project_id]),
        {"links": [{"crm_strategy": chain[2].pk, "rationale": "Old", "weight": 40}]},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["links"] == [
        {"crm_strategy": chain[2].pk, "rationale": "Old", "weight": 40}
    ]


def test_the_schema_explains_the_rationale_and_the_weight(api, viewer):
    schema = api(viewer).get("/api/schema/", HTTP_ACCEPT="application/json").json()

    link = schema["components"]["schemas"]["Link"]["properties"]
    assert RATIONALE_RULE in link["rationale"]["description"]
    assert link["weight"]["description"] == WEIGHT_MEANING


# --- maximum lengths: refused, never cut -------------------------------------------------------


def test_an_over_long_title_is_a_400_naming_the_field_and_the_limit(api, pm):
    response = api(pm).post(reverse("api:project-list"), {"title": "x" * 201}, format="json")

    assert response.status_code == 400
    assert response.json() == {"title": ["Ensure this field has no more than 200 characters."]}
    assert not CRMProject.objects.exists()


def test_an_over_long_rationale_is_a_400_under_its_link(api, pm, chain):
    response = api(pm).post(
        reverse("api:project-list"),
        {
            "title": "Partner portal",
            "links": [{"crm_strategy": chain[2].pk, "rationale": "a " * 251}],
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "links": {"0": {"rationale": ["Ensure this field has no more than 500 characters."]}}
    }
    assert not CRMProject.objects.exists()
