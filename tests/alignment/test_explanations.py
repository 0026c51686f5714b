"""Flags that explain their path: every traceability flag carries the broken chain in words and
as data, with who changed a status and when where that was recorded; a page of flags is
explained in a fixed number of queries."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alignment import engine
from alignment.explain import EXPLAINED_RULES, explain
from alignment.models import UNRESOLVED_STATES, Flag
from crm_alignment.demo import CRM_TELESALES, P_DIALLER
from strategies import services as strategy_services
from strategies.models import BusinessStrategy
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    FeatureFactory,
    FeatureLinkFactory,
    GoalFactory,
    ProjectFactory,
    ProjectLinkFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TRACEABILITY = (
    "project.broken_chain",
    "project.untraced",
    "feature.untraced",
    "crm_strategy.unanchored",
)
BS_TELESALES = "Grow mid-market revenue through direct telesales"


@pytest.fixture
def demo(settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=StringIO())
    engine.scan_full()


def test_every_traceability_flag_of_the_demo_names_its_broken_link_and_who_and_when(demo):
    flags = list(Flag.objects.filter(rule__in=TRACEABILITY, state__in=UNRESOLVED_STATES))
    assert {f.rule for f in flags} == set(TRACEABILITY)
    explained = explain(flags)
    retired = BusinessStrategy.objects.get(title=BS_TELESALES)
    executive = get_user_model().objects.get(username="executive")
    who = executive.get_full_name() or executive.username
    when = timezone.localtime(retired.status_changed_at)
    for flag in flags:
        explanation = explained[flag.pk]
        path = explanation.path_data()
        assert path[0]["id"] == flag.subject_id
        assert explanation.text.startswith(
            flag.subject_label if flag.subject_type != "crm_strategy" else "CRM strategy"
        )
        if len(path) == 1 and flag.subject_type != "crm_strategy":
            # Linked to nothing: the broken link is the missing one.
            assert explanation.text.endswith("→ links to no CRM strategy"), explanation.text
            continue
        broken = path[-1]
        # The chain ends where it breaks: the retired business strategy, with who and when.
        assert broken == {
            "kind": "business_strategy",
            "id": retired.pk,
            "title": BS_TELESALES,
            "status": "retired",
            "changed_at": retired.status_changed_at,
            "changed_by": who,
        }, explanation.text
        assert (
            f"business strategy “{BS_TELESALES}” (retired on {when.day} {when:%b %Y} by {who})"
            in (explanation.text)
        )
        assert all(step["status"] == "active" for step in path[1:-1])
    dialler = next(f for f in flags if f.subject_label == P_DIALLER)
    assert explained[dialler.pk].text.startswith(
        f"{P_DIALLER} → CRM strategy “{CRM_TELESALES}” (active) → business strategy"
    )


def test_a_status_set_before_it_was_recorded_is_explained_without_who_or_when(demo):
    retired = BusinessStrategy.objects.get(title=BS_TELESALES)
    BusinessStrategy.objects.filter(pk=retired.pk).update(
        status_changed_at=None, status_changed_by=None
    )
    flag = Flag.objects.get(rule="crm_strategy.unanchored", state="open")
    explanation = explain([flag])[flag.pk]
    assert explanation.text == (
        f"CRM strategy “{CRM_TELESALES}” (active) → business strategy “{BS_TELESALES}” (retired)"
    )
    assert explanation.path_data()[-1]["changed_by"] is None


def test_the_api_and_the_pages_show_the_explanation(demo):
    from rest_framework.test import APIClient

    from tests.tokens import token_for

    viewer = get_user_model().objects.get(username="viewer")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(viewer)}")
    flag = Flag.objects.get(rule="project.broken_chain", state="open")
    answer = api.get("/api/flags/", {"rule": "project.broken_chain"}).json()
    row = answer["results"][0]
    assert row["explanation"] == explain([flag])[flag.pk].text
    assert [step["kind"] for step in row["path"]] == [
        "project",
        "crm_strategy",
        "business_strategy",
    ]
    assert row["path"][-1]["status"] == "retired" and row["path"][-1]["changed_by"]
    single = api.get(f"/api/flags/{flag.pk}/").json()
    assert single["explanation"] == row["explanation"]
    # A flag that is not about traceability explains nothing beyond its message.
    other = Flag.objects.filter(rule="project.stalled").first()
    assert api.get(f"/api/flags/{other.pk}/").json()["explanation"] == ""

    browser = Client()
    browser.force_login(viewer)
    inbox = browser.get(reverse("alignment:flags"), {"rule": "project.broken_chain"})
    assert "Broken chain:" in inbox.content.decode()
    assert BS_TELESALES in inbox.content.decode()
    panel = browser.get(reverse("alignment:project_flags", args=[flag.project_id]))
    assert "Broken chain:" in panel.content.decode()
    assert "retired on" in panel.content.decode()


def broken_portfolio(n: int, who) -> None:
    """n of each traceability problem: a project on a CRM strategy serving a retired business
    strategy (broken chain, feature untraced, CRM strategy unanchored), an unlinked project,
    and an off-scope feature."""
    for _ in range(n):
        goal = GoalFactory()
        business = BusinessStrategyFactory(goal=goal)
        crm = CRMStrategyFactory(serves=[business])
        strategy_services.business_strategy_update(
            actor=who, business_strategy_id=business.pk, changes={"status": "retired"}
        )
        project = ProjectFactory(status="active")
        ProjectLinkFactory(project=project, crm_strategy=crm)
        FeatureLinkFactory(feature=FeatureFactory(project=project), crm_strategy=crm)
        FeatureFactory(project=ProjectFactory(status="active"))
        FeatureLinkFactory(
            feature=FeatureFactory(project=project), crm_strategy=CRMStrategyFactory()
        )
    engine.scan_full()


def test_the_flags_api_and_the_inbox_explain_a_page_in_the_same_queries_for_more_flags(
    django_assert_num_queries,
):
    from rest_framework.test import APIClient

    from tests.tokens import token_for

    executive = UserFactory(roles=["executive"], first_name="Erin", last_name="Exec")
    viewer = UserFactory(roles=["viewer"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(viewer)}")
    browser = Client()
    browser.force_login(viewer)
    broken_portfolio(2, executive)
    rules = {
        "project.broken_chain",
        "project.untraced",
        "feature.untraced",
        "crm_strategy.unanchored",
        "feature.off_scope",
    }

    def counted():
        with CaptureQueriesContext(connection) as api_queries:
            listed = api.get("/api/flags/", {"page_size": 200}).json()
        with CaptureQueriesContext(connection) as page_queries:
            page = browser.get(reverse("alignment:flags"), {"page_size": 200})
        assert page.status_code == 200
        return listed, len(api_queries.captured_queries), len(page_queries.captured_queries)

    small, api_small, page_small = counted()
    assert rules <= {row["rule"] for row in small["results"]}
    broken_portfolio(8, executive)
    large, api_large, page_large = counted()
    assert large["count"] > small["count"] * 3
    explained = [row for row in large["results"] if row["rule"] in rules]
    assert explained and all(row["explanation"] and row["path"] for row in explained)
    assert any("by Erin Exec" in row["explanation"] for row in explained)
    assert api_large == api_small
    # The inbox shows 25 a page, worst first: the larger portfolio's first page may hold fewer
    # kinds of subject (each kind one query), never more queries.
    assert page_large <= page_small


def test_explaining_a_page_costs_a_fixed_number_of_queries(django_assert_max_num_queries):
    executive = UserFactory(roles=["executive"])
    broken_portfolio(5, executive)
    flags = list(Flag.objects.filter(state="open"))
    with django_assert_max_num_queries(7):
        explained = explain(flags)
    assert set(explained) == {f.pk for f in flags if f.rule in EXPLAINED_RULES}
