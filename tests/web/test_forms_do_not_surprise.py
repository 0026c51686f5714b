"""Forms that do not surprise: they offer only the statuses the service accepts, refuse a title
that differs from an existing one only in case (naming it), show and refuse over-long input,
require a link's rationale, and explain the link picker (weight, each strategy's chain)."""

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from goals.models import BusinessGoal
from projects.models import CRMProject, ProjectStatus
from projects.services import (
    RATIONALE_RULE,
    project_status_refusal,
    project_statuses_offered,
    rationale_refusal,
)
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

BUDGET = {
    f"budget_{part}": "0" for part in ("technology", "people", "process", "training", "incentives")
}


def _offered(html: str) -> set[str]:
    return {status for status in ProjectStatus.values if f'<option value="{status}"' in html}


# --- statuses offered are the statuses accepted ------------------------------------------


def test_a_new_project_is_offered_no_status_the_service_refuses(as_user, pm):
    html = as_user(pm).get(reverse("projects:create")).content.decode()

    assert _offered(html) == {"proposed", "on_hold", "done", "cancelled"}
    assert "A project becomes active once its sponsor has approved it" in html


def test_a_new_project_posted_as_active_is_refused_naming_the_status(as_user, pm):
    response = as_user(pm).post(
        reverse("projects:create"), {"title": "Too eager", "status": "active"}
    )

    assert "Status: Select a valid choice. active is not one of the available choices." in (
        response.content.decode()
    )
    assert not CRMProject.objects.exists()


def test_an_approved_project_is_offered_active_but_never_approved_again_by_hand(as_user, pm):
    approved = ProjectFactory(manager=pm, status=ProjectStatus.ON_HOLD, approved_at=timezone.now())

    html = as_user(pm).get(reverse("projects:edit", args=[approved.pk])).content.decode()

    assert _offered(html) == {"proposed", "active", "on_hold", "done", "cancelled"}


def test_an_approved_project_keeps_its_status_on_offer(as_user, pm):
    approved = ProjectFactory(manager=pm, status=ProjectStatus.APPROVED, approved_at=timezone.now())

    html = as_user(pm).get(reverse("projects:edit", args=[approved.pk])).content.decode()

    assert {"approved", "active"} <= _offered(html)


@pytest.mark.parametrize("current", ProjectStatus.values)
@pytest.mark.parametrize("approved", [False, True])
def test_the_statuses_offered_are_exactly_those_the_service_accepts(current, approved):
    offered = project_statuses_offered(current=current, approved=approved)

    for status in ProjectStatus.values:
        accepted = project_status_refusal(status, current=current, approved=approved) is None
        assert (status in offered) == accepted
    assert current in offered


# --- titles unique ignoring case -----------------------------------------------------------


def test_a_project_title_differing_only_in_case_is_refused_naming_the_existing_one(as_user, pm):
    ProjectFactory(title="CRM Rollout")

    response = as_user(pm).post(
        reverse("projects:create"), {"title": "crm rollout", "status": "proposed"}
    )

    assert response.status_code == 200
    assert "Title: A project named “CRM Rollout” already exists." in response.content.decode()
    assert CRMProject.objects.count() == 1


def test_renaming_a_project_onto_another_title_in_other_case_is_refused(as_user, pm):
    ProjectFactory(title="CRM Rollout")
    mine = ProjectFactory(manager=pm, title="Partner portal")

    response = as_user(pm).post(
        reverse("projects:edit", args=[mine.pk]),
        {
            **BUDGET,
            "title": "CRM ROLLOUT",
            "status": "proposed",
            "manager": pm.pk,
            "version": mine.version,
        },
    )

    assert "Title: A project named “CRM Rollout” already exists." in response.content.decode()
    mine.refresh_from_db()
    assert mine.title == "Partner portal"


def test_a_project_may_change_the_case_of_its_own_title(as_user, pm):
    mine = ProjectFactory(manager=pm, title="Crm rollout")

    response = as_user(pm).post(
        reverse("projects:edit", args=[mine.pk]),
        {
            **BUDGET,
            "title": "CRM Rollout",
            "status": "proposed",
            "manager": pm.pk,
            "version": mine.version,
        },
    )

    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.title == "CRM Rollout"


def test_a_goal_title_differing_only_in_case_is_refused_naming_the_existing_one(as_user, executive):
    GoalFactory(title="Grow revenue")

    response = as_user(executive).post(
        reverse("goals:create"), {"title": "GROW REVENUE", "status": "draft", "priority": "2"}
    )

    assert "Title: A goal named “Grow revenue” already exists." in response.content.decode()
    assert BusinessGoal.objects.count() == 1


def test_a_crm_strategy_title_differing_only_in_case_is_refused(as_user, executive):
    CRMStrategyFactory(title="Enable local partners")

    response = as_user(executive).post(
        reverse("strategies:crm_create"), {"title": "enable Local Partners", "status": "draft"}
    )

    assert "Title: A CRM strategy named “Enable local partners” already exists." in (
        response.content.decode()
    )
    assert CRMStrategy.objects.count() == 1


def test_a_business_strategy_title_is_unique_ignoring_case_within_its_goal(as_user, executive):
    existing = BusinessStrategyFactory(title="Emerging markets")
    other_goal = GoalFactory()
    client = as_user(executive)

    refused = client.post(
        reverse("strategies:business_create"),
        {"goal": existing.goal_id, "title": "emerging MARKETS", "status": "draft"},
    )
    elsewhere = client.post(
        reverse("strategies:business_create"),
        {"goal": other_goal.pk, "title": "emerging MARKETS", "status": "draft"},
    )

    assert (
        f"Title: The goal “{existing.goal.title}” already has a business strategy named "
        "“Emerging markets”."
    ) in refused.content.decode()
    assert elsewhere.status_code == 302
    assert BusinessStrategy.objects.count() == 2


def test_a_feature_title_is_unique_ignoring_case_within_its_project(as_user, pm):
    project = ProjectFactory(manager=pm)
    FeatureFactory(project=project, title="Deal registration")

    response = as_user(pm).post(
        reverse("projects:feature_create", args=[project.pk]),
        {
            "new-feature-title": "DEAL registration",
            "new-feature-priority": "2",
            "new-feature-status": "planned",
        },
    )

    assert "This project already has a feature named “Deal registration”." in (
        response.content.decode()
    )
    assert project.features.count() == 1


def test_the_database_refuses_titles_differing_only_in_case():
    ProjectFactory(title="CRM Rollout")

    with pytest.raises(IntegrityError), transaction.atomic():
        CRMProject.objects.create(title="crm rollout", manager=ProjectFactory().manager)


# --- a link's rationale is required ----------------------------------------------------------


def test_a_link_without_a_rationale_is_refused_next_to_its_row(as_user, pm):
    project = ProjectFactory(manager=pm)
    strategy = CRMStrategyFactory()

    response = as_user(pm).post(
        reverse("projects:links", args=[project.pk]), {f"links-use_{strategy.pk}": "on"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="id_links-rationale_{strategy.pk}_error"><li>A rationale is required.' in html
    assert RATIONALE_RULE in html
    assert not project.links.exists()


def test_a_one_word_rationale_is_refused(as_user, pm):
    project = ProjectFactory(manager=pm)
    strategy = CRMStrategyFactory()

    response = as_user(pm).post(
        reverse("projects:links", args=[project.pk]),
        {
            f"links-use_{strategy.pk}": "on",
            f"links-rationale_{strategy.pk}": "Partnerships!!!!!!!!!",
        },
    )

    assert "“Partnerships!!!!!!!!!” is too short to be a rationale." in response.content.decode()
    assert not project.links.exists()


def test_a_feature_link_needs_a_rationale_too(as_user, pm):
    feature = FeatureFactory(project__manager=pm)
    strategy = CRMStrategyFactory()
    prefix = f"links-{feature.pk}"

    response = as_user(pm).post(
        reverse("projects:feature_links", args=[feature.pk]),
        {f"{prefix}-use_{strategy.pk}": "on", f"{prefix}-rationale_{strategy.pk}": "CRM"},
        HTTP_HX_REQUEST="true",
    )

    assert "“CRM” is too short to be a rationale." in response.content.decode()
    assert not feature.links.exists()


def test_a_link_stored_with_a_short_rationale_stays_readable_and_editable(as_user, pm):
    link = ProjectLinkFactory(project__manager=pm, rationale="Old", weight=None)
    client = as_user(pm)
    pk = link.crm_strategy_id

    page = client.get(reverse("projects:detail", args=[link.project_id]))
    saved = client.post(
        reverse("projects:links", args=[link.project_id]),
        {f"links-use_{pk}": "on", f"links-rationale_{pk}": "Old", f"links-weight_{pk}": "40"},
    )

    assert page.status_code == 200
    assert saved.status_code == 302
    link.refresh_from_db()
    assert (link.rationale, link.weight) == ("Old", 40)


def test_the_picker_explains_the_rationale_rule_and_what_the_weight_does(as_user, pm):
    project = ProjectFactory(manager=pm)
    CRMStrategyFactory()

    html = as_user(pm).get(reverse("projects:links", args=[project.pk])).content.decode()

    assert RATIONALE_RULE in html
    assert "how much of the project&#x27;s budget this link carries in the investment" in html


def test_the_generator_and_the_factories_write_rationales_the_rule_accepts():
    from crm_alignment.portfolio import RATIONALES
    from tests.factories import FeatureLinkFactory

    written = [*RATIONALES, ProjectLinkFactory.rationale, FeatureLinkFactory.rationale]

    assert [text for text in written if rationale_refusal(text) is not None] == []


# --- the picker names each CRM strategy's business strategies and goals ----------------------


def _strategies_with_chains(n: int, goal, start: int = 0) -> None:
    for i in range(start, start + n):
        business = BusinessStrategyFactory(goal=goal, title=f"Market {i}")
        CRMStrategyFactory(title=f"Serve market {i}", serves=[business])


def test_the_link_picker_shows_each_strategys_business_strategy_and_goal(as_user, pm):
    project = ProjectFactory(manager=pm)
    goal = GoalFactory(title="Grow revenue")
    business = BusinessStrategyFactory(goal=goal, title="Emerging markets")
    retired = BusinessStrategyFactory(goal=goal, title="Old markets", status="retired")
    CRMStrategyFactory(title="Enable local partners", serves=[business, retired])
    CRMStrategyFactory(title="Loose tool", serves=[])

    html = as_user(pm).get(reverse("projects:links", args=[project.pk])).content.decode()

    assert "Serves <strong>Emerging markets</strong> → goal <strong>Grow revenue</strong>" in html
    assert "Serves <strong>Old markets</strong> (retired) → goal" in html
    assert "Serves no business strategy yet" in html


def test_the_link_picker_costs_the_same_queries_for_2_and_20_strategies(
    as_user, pm, queries_for, django_assert_num_queries
):
    project = ProjectFactory(manager=pm)
    goal = GoalFactory()
    url = reverse("projects:links", args=[project.pk])
    client = as_user(pm)
    _strategies_with_chains(2, goal)
    with_two = queries_for(url)
    _strategies_with_chains(18, goal, start=2)

    with django_assert_num_queries(with_two):
        response = client.get(url)

    assert response.content.decode().count("link-picker__chain") == 20


# --- maximum lengths: shown with a counter, refused with a message, never cut ---------------


def test_text_fields_show_their_limit_with_a_counter_and_no_cutting_maxlength(as_user, pm):
    html = as_user(pm).get(reverse("projects:create")).content.decode()

    assert 'data-max-length="200"' in html
    assert 'aria-describedby="id_title_count"' in html
    assert '<p class="field__count" id="id_title_count">0 / 200 characters</p>' in html
    form = html[html.index('<form method="post"') :]
    assert "maxlength=" not in form[: form.index("</form>")]


def test_an_edit_form_counts_the_stored_text(as_user, pm):
    project = ProjectFactory(manager=pm, title="CRM Rollout")

    html = as_user(pm).get(reverse("projects:edit", args=[project.pk])).content.decode()

    assert '<p class="field__count" id="id_title_count">11 / 200 characters</p>' in html


def test_an_over_long_title_is_refused_naming_the_field_and_the_limit_and_kept(as_user, pm):
    title = ("Partner portal " * 14).strip()  # 209 characters

    response = as_user(pm).post(reverse("projects:create"), {"title": title, "status": "proposed"})

    html = response.content.decode()
    assert "Title: Ensure this value has at most 200 characters (it has 209)." in html
    assert "209 / 200 characters — 9 too many" in html
    assert f'value="{title}"' in html  # kept in full for the person to shorten
    assert not CRMProject.objects.exists()


def test_an_over_long_rationale_is_refused_in_the_picker(as_user, pm):
    project = ProjectFactory(manager=pm)
    strategy = CRMStrategyFactory()

    response = as_user(pm).post(
        reverse("projects:links", args=[project.pk]),
        {
            f"links-use_{strategy.pk}": "on",
            f"links-rationale_{strategy.pk}": ("Serves it " * 60).strip(),
        },
    )

    html = response.content.decode()
    assert "Ensure this value has at most 500 characters (it has 599)." in html
    assert "599 / 500 characters — 99 too many" in html
    assert not project.links.exists()


def test_the_counter_script_is_a_static_file_not_inline(as_user, pm):
    html = as_user(pm).get(reverse("projects:create")).content.decode()

    assert 'src="/static/js/counter.js"' in html
