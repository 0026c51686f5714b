"""Project pages: lists, the project page (chain, readiness, flags), forms, link pickers,
inline features, metrics, roadmap, check-ins and the sponsor's approval (the last two served
by alignment, at the project's addresses)."""

import datetime
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from alignment.models import Flag, FlagState
from projects.models import CRMProject, Feature, ProjectStatus
from strategies.models import StrategyStatus
from tests.factories import (
    CRMStrategyFactory,
    DepartmentFactory,
    FeatureFactory,
    FeatureLinkFactory,
    ProjectFactory,
    ProjectLinkFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
    rule_settings,
)

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"  # between the currency code and the amount

READERS = ["executive", "pm", "other_pm", "sponsor", "viewer", "admin_user"]
HTMX = {"HTTP_HX_REQUEST": "true"}


def open_flags(project):
    return set(
        Flag.objects.filter(project=project, state=FlagState.OPEN).values_list("rule", flat=True)
    )


def flags_panel(client, project):
    return client.get(
        reverse("alignment:project_flags", args=[project.pk]), **HTMX
    ).content.decode()


# --- reading ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", READERS)
def test_every_role_reads_the_project_pages(request, as_user, role):
    project = ProjectFactory(title="Partner portal")
    feature = FeatureFactory(project=project)
    client = as_user(request.getfixturevalue(role))

    assert "Partner portal" in client.get(reverse("projects:list")).content.decode()
    for url in [
        reverse("projects:mine"),
        reverse("projects:detail", args=[project.pk]),
        reverse("alignment:project_flags", args=[project.pk]),
        reverse("alignment:project_readiness", args=[project.pk]),
        reverse("projects:feature_detail", args=[feature.pk]),
    ]:
        assert client.get(url).status_code == 200, url


def test_a_user_without_a_role_finds_no_projects(as_user, nobody):
    project = ProjectFactory()
    feature = FeatureFactory(project=project)
    client = as_user(nobody)

    for url in [
        reverse("projects:list"),
        reverse("projects:mine"),
        reverse("projects:detail", args=[project.pk]),
        reverse("alignment:project_flags", args=[project.pk]),
        reverse("alignment:project_readiness", args=[project.pk]),
        reverse("projects:feature_detail", args=[feature.pk]),
        reverse("projects:edit", args=[project.pk]),
        reverse("projects:links", args=[project.pk]),
    ]:
        assert client.get(url).status_code == 404, url


def test_my_projects_lists_what_i_manage_or_sponsor(as_user, pm):
    ProjectFactory(title="Managed by me", manager=pm)
    ProjectFactory(title="Sponsored by me", sponsor=pm)
    ProjectFactory(title="Not mine")

    html = as_user(pm).get(reverse("projects:mine")).content.decode()

    assert "Managed by me" in html and "Sponsored by me" in html
    assert "Not mine" not in html


def test_the_project_list_filters_by_status_manager_department_and_traceability(
    as_user, viewer, pm
):
    traced = ProjectLinkFactory(project__title="Traced one", project__manager=pm).project
    ProjectFactory(title="Loose one", status=ProjectStatus.ON_HOLD)
    client = as_user(viewer)
    url = reverse("projects:list")

    assert "Loose one" not in client.get(url, {"is_traceable": "true"}).content.decode()
    assert "Traced one" not in client.get(url, {"is_traceable": "false"}).content.decode()
    assert "Traced one" not in client.get(url, {"status": "on_hold"}).content.decode()
    assert "Loose one" not in client.get(url, {"manager": pm.pk}).content.decode()
    by_department = client.get(url, {"department": traced.department_id}).content.decode()
    assert "Traced one" in by_department and "Loose one" not in by_department


def test_the_project_list_sorts_by_budget_both_ways(as_user, viewer):
    ProjectFactory(title="Cheap", budget_technology=Decimal("10"))
    ProjectFactory(title="Dear", budget_technology=Decimal("10000"))
    client = as_user(viewer)

    ascending = client.get(reverse("projects:list"), {"ordering": "budget_total"}).content.decode()
    descending = client.get(
        reverse("projects:list"), {"ordering": "-budget_total"}
    ).content.decode()

    assert ascending.index("Cheap") < ascending.index("Dear")
    assert descending.index("Dear") < descending.index("Cheap")


def test_the_project_list_paginates(as_user, viewer):
    ProjectFactory.create_batch(30)

    html = as_user(viewer).get(reverse("projects:list"), {"page": "2"}).content.decode()

    assert "26\u201330 of 30" in html


@pytest.mark.parametrize("page", ["projects:list", "projects:mine"])
def test_project_lists_make_the_same_queries_for_2_and_50(
    as_user, pm, page, queries_for, django_assert_num_queries
):
    client = as_user(pm)
    department = DepartmentFactory()
    for _ in range(2):
        FeatureLinkFactory(feature__project__manager=pm, feature__project__department=department)
    baseline = queries_for(reverse(page))
    for _ in range(48):
        link = FeatureLinkFactory(
            feature__project__manager=pm, feature__project__department=department
        )
        ProjectLinkFactory(project=link.feature.project, crm_strategy=link.crm_strategy)

    with django_assert_num_queries(baseline):
        client.get(reverse(page))


def test_the_project_page_shows_its_chain_as_breadcrumbs(as_user, viewer):
    link = ProjectLinkFactory(rationale="Partners sell through it")
    business = link.crm_strategy.business_strategies.get()

    html = as_user(viewer).get(reverse("projects:detail", args=[link.project.pk])).content.decode()

    chain = html[html.index("Goal: ") :]
    positions = [
        chain.index(business.goal.title),
        chain.index(business.title),
        chain.index(link.crm_strategy.title),
        chain.index(link.project.title),
    ]
    assert positions == sorted(positions)
    assert "Partners sell through it" in html


def test_a_chain_through_a_retired_strategy_is_shown_broken(as_user, viewer):
    link = ProjectLinkFactory(crm_strategy__status=StrategyStatus.RETIRED)

    html = as_user(viewer).get(reverse("projects:detail", args=[link.project.pk])).content.decode()

    assert "chain__crumbs chain__crumbs--broken" in html
    assert "does not reach an active goal" in html


def _readiness_card(html):
    start = html.index('id="readiness-heading"')
    return html[start : html.index("</section>", start)]


def _checklist(html):
    """rule code → "ok" / "missing" / "off", read from the readiness card."""
    card = _readiness_card(html)
    marks = {}
    for item in card.split('data-rule="')[1:]:
        code = item[: item.index('"')]
        marks[code] = item[item.index("checklist__mark--") + 17 :].split('"')[0]
    return marks


def test_the_readiness_checklist_is_the_rule_catalogue_for_the_project(as_user, viewer):
    bare = ProjectFactory(sponsor=None, budget_people=Decimal("0"), integration_notes="")
    FeatureFactory(project=bare, title="Orphan requirement")
    ready = ProjectLinkFactory(project__integration_notes="SSO and the order feed").project
    SuccessMetricFactory(project=ready, name="Partner revenue share")
    RoadmapPhaseFactory(project=ready)
    client = as_user(viewer)

    bare_html = client.get(reverse("projects:detail", args=[bare.pk])).content.decode()
    ready_html = client.get(reverse("projects:detail", args=[ready.pk])).content.decode()

    assert _checklist(bare_html) == {
        "project.untraced": "missing",
        "project.broken_chain": "ok",
        "feature.untraced": "missing",
        "feature.off_scope": "ok",
        "project.no_sponsor": "missing",
        "project.no_success_metrics": "missing",
        "project.no_roadmap": "missing",
        "project.it_only": "ok",
        "project.technology_only": "missing",
        "project.stalled": "ok",
        # No go-live yet: nothing to integrate or review by a date.
        "project.integration_unplanned": "ok",
        "project.benefits_unreviewed": "ok",
    }
    assert set(_checklist(ready_html).values()) == {"ok"}
    # Each missing item says what to do (the rule's advice), and names the features.
    assert "Name an executive sponsor who will drive the change" in bare_html
    assert "Features: Orphan requirement." in bare_html
    # The integration plan has no rule: it is a fact on the page, not a checklist item.
    assert "Integration plan" not in _readiness_card(bare_html)


def test_every_amount_on_project_pages_shows_the_currency(as_user, viewer, settings):
    settings.CURRENCY = "CHF"
    project = ProjectLinkFactory(
        project__title="Partner portal",
        project__budget_technology=Decimal("1234.5"),
        project__budget_people=Decimal("0.01"),
        project__budget_process=Decimal("0"),
        project__budget_training=Decimal("0"),
        project__budget_incentives=Decimal("0"),
    ).project
    client = as_user(viewer)

    detail = client.get(reverse("projects:detail", args=[project.pk])).content.decode()
    listing = client.get(reverse("projects:list")).content.decode()

    assert f"CHF{NBSP}1,234.50" in detail  # technology
    assert f"CHF{NBSP}1,234.51" in detail  # the total
    assert f"CHF{NBSP}1,234.51" in listing
    assert f"EUR{NBSP}" not in detail + listing  # (a bare "EUR" may occur in a CSRF token)


def test_the_project_page_shows_open_flags_with_the_rules_advice(as_user, viewer):
    project = ProjectFactory(title="Loose")
    now = timezone.now()
    Flag.objects.create(
        rule="project.untraced",
        severity="critical",
        subject_type="project",
        subject_id=project.pk,
        subject_label=project.title,
        project=project,
        message="Link this project to the CRM strategy it serves.",
        first_seen=now,
        last_seen=now,
    )

    html = as_user(viewer).get(reverse("projects:detail", args=[project.pk])).content.decode()

    assert 'data-rule="project.untraced"' in html
    assert "What to do:" in html and "Link this project to the CRM strategy it serves." in html
    assert "Why it matters:" in html
    panel = reverse("alignment:project_flags", args=[project.pk])
    assert f'hx-get="{panel}"' in html
    assert "flagsChanged from:body" in html


def test_the_project_page_lists_flags_needing_attention_but_not_waived_ones(as_user, viewer):
    project = ProjectFactory(title="Half waived")
    now = timezone.now()
    common = {
        "subject_type": "project",
        "subject_id": project.pk,
        "subject_label": project.title,
        "project": project,
        "first_seen": now,
        "last_seen": now,
    }
    acknowledged = Flag.objects.create(
        rule="project.no_roadmap", severity="warning", state=FlagState.ACKNOWLEDGED, **common
    )
    waived = Flag.objects.create(
        rule="project.no_sponsor",
        severity="critical",
        state=FlagState.WAIVED,
        waiver_reason="Interim sponsor named next week",
        waiver_expires_at=now + datetime.timedelta(days=7),
        **common,
    )

    html = as_user(viewer).get(reverse("projects:detail", args=[project.pk])).content.decode()

    assert f'id="flag-{acknowledged.pk}"' in html
    assert f'id="flag-{waived.pk}"' not in html


def test_adding_a_metric_inline_refreshes_the_readiness_checklist(as_user, pm, sponsor):
    project = ProjectFactory(manager=pm, sponsor=sponsor)
    RoadmapPhaseFactory(project=project)
    readiness_url = reverse("alignment:project_readiness", args=[project.pk])
    # as_user signs the one test client in as that user.
    before = as_user(sponsor).get(readiness_url).content.decode()

    added = as_user(pm).post(
        reverse("projects:metric_create", args=[project.pk]),
        {"metrics-name": "Partner revenue", "metrics-baseline": "1", "metrics-target": "2"},
        **HTMX,
    )
    page = as_user(pm).get(reverse("projects:detail", args=[project.pk])).content.decode()
    after = as_user(sponsor).get(readiness_url).content.decode()

    assert "Approval will be refused" in before
    assert "flagsChanged" in added.headers["HX-Trigger"]
    assert f'hx-get="{readiness_url}"' in page
    assert "Approval will be refused" not in after


def test_the_project_page_makes_the_same_queries_for_2_and_50_features(
    as_user, pm, queries_for, django_assert_num_queries
):
    project = ProjectFactory(manager=pm)
    client = as_user(pm)
    for _ in range(2):
        # Off-scope and untraced features, and chains: every checklist query has rows.
        FeatureLinkFactory(feature__project=project)
        FeatureFactory(project=project)
        ProjectLinkFactory(project=project)
        SuccessMetricFactory(project=project)
        RoadmapPhaseFactory(project=project)
    url = reverse("projects:detail", args=[project.pk])
    baseline = queries_for(url)
    for _ in range(48):
        FeatureLinkFactory(feature__project=project)
        FeatureFactory(project=project)
        ProjectLinkFactory(project=project)
        SuccessMetricFactory(project=project)
        RoadmapPhaseFactory(project=project)

    with django_assert_num_queries(baseline):
        client.get(url)


def test_the_readiness_card_makes_the_same_queries_for_2_and_50_failing_features(
    as_user, viewer, queries_for, django_assert_num_queries
):
    project = ProjectFactory()
    client = as_user(viewer)
    for _ in range(2):
        FeatureLinkFactory(feature__project=project)
        FeatureFactory(project=project)
    url = reverse("alignment:project_readiness", args=[project.pk])
    baseline = queries_for(url)
    for _ in range(48):
        FeatureLinkFactory(feature__project=project)
        FeatureFactory(project=project)

    with django_assert_num_queries(baseline):
        html = client.get(url).content.decode()
    assert html.count("Feature ") >= 100  # every failing feature is named


def test_a_switched_off_rule_is_shown_as_not_checked(as_user, viewer):
    rule_settings().filter(code="project.no_sponsor").update(enabled=False)
    project = ProjectFactory(sponsor=None)

    html = as_user(viewer).get(reverse("projects:detail", args=[project.pk])).content.decode()

    assert _checklist(html)["project.no_sponsor"] == "off"
    assert "Not checked: the rule is switched off." in _readiness_card(html)


def test_the_card_marks_what_approval_needs_and_says_a_proposal_is_checked_as_approved(
    as_user, sponsor
):
    project = ProjectFactory(sponsor=sponsor)

    card = _readiness_card(
        as_user(sponsor).get(reverse("projects:detail", args=[project.pk])).content.decode()
    )

    assert card.count("needed for approval") == 3
    assert "As the project would stand once approved" in card
    assert (
        "Approval will be refused until a success metric has a baseline and a target; "
        "the roadmap has a phase or milestone." in card
    )


def test_done_projects_show_no_checklist(as_user, viewer):
    project = ProjectFactory(status=ProjectStatus.DONE, sponsor=None)

    card = _readiness_card(
        as_user(viewer).get(reverse("projects:detail", args=[project.pk])).content.decode()
    )

    assert "no rule checks them" in card and "data-rule=" not in card


def test_a_viewer_sees_no_edit_controls_on_a_project(as_user, viewer):
    project = ProjectFactory()
    FeatureFactory(project=project)

    html = as_user(viewer).get(reverse("projects:detail", args=[project.pk])).content.decode()

    assert reverse("projects:edit", args=[project.pk]) not in html
    assert "Add a feature" not in html
    assert "Approve project" not in html
    assert "Move “" not in html


# --- who may change what --------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "other_pm", "sponsor", "executive"])
def test_only_the_manager_reaches_a_projects_edit_pages(request, as_user, pm, role):
    project = ProjectFactory(manager=pm)
    feature = FeatureFactory(project=project)
    metric = SuccessMetricFactory(project=project)
    phase = RoadmapPhaseFactory(project=project)
    client = as_user(request.getfixturevalue(role))

    for url in [
        reverse("projects:edit", args=[project.pk]),
        reverse("projects:links", args=[project.pk]),
        reverse("projects:feature_edit", args=[feature.pk]),
        reverse("projects:feature_links", args=[feature.pk]),
        reverse("projects:metric_edit", args=[metric.pk]),
        reverse("projects:phase_edit", args=[phase.pk]),
    ]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Only the project&#x27;s manager may change it." in response.content.decode()
    for url in [
        reverse("projects:feature_create", args=[project.pk]),
        reverse("projects:feature_delete", args=[feature.pk]),
        reverse("projects:metric_delete", args=[metric.pk]),
        reverse("projects:check_in_create", args=[project.pk]),
    ]:
        assert client.post(url, {"new-feature-title": "X"}).status_code == 403, url
    assert Feature.objects.filter(pk=feature.pk).exists()


@pytest.mark.parametrize("role", ["viewer", "sponsor", "executive"])
def test_only_project_managers_create_projects(request, as_user, role):
    client = as_user(request.getfixturevalue(role))

    assert client.get(reverse("projects:create")).status_code == 403
    assert client.post(reverse("projects:create"), {"title": "Sneaky"}).status_code == 403
    assert not CRMProject.objects.exists()


# --- writing ------------------------------------------------------------------------------


def project_data(**overrides):
    data = {
        "title": "Partner portal",
        "status": "proposed",
        "budget_technology": "100000",
        "budget_people": "20000",
        "budget_process": "0",
        "budget_training": "5000",
        "budget_incentives": "0",
        "integration_notes": "Single sign-on",
    }
    data.update(overrides)
    return data


def test_a_project_manager_creates_a_project_they_manage(as_user, pm, sponsor):
    department = DepartmentFactory(name="Partner Channel")

    response = as_user(pm).post(
        reverse("projects:create"),
        project_data(sponsor=sponsor.pk, department=department.pk, start_date="2026-01-01"),
    )

    project = CRMProject.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("projects:detail", args=[project.pk])
    assert (project.manager, project.sponsor, project.department) == (pm, sponsor, department)
    assert project.budget_capability == Decimal("25000")


def test_project_dates_out_of_order_are_refused_naming_the_field(as_user, pm):
    response = as_user(pm).post(
        reverse("projects:create"), project_data(start_date="2026-05-01", end_date="2026-01-01")
    )

    assert "The end date must be on or after the start date." in response.content.decode()
    assert not CRMProject.objects.exists()


def test_a_negative_budget_is_refused_naming_the_field(as_user, pm):
    response = as_user(pm).post(reverse("projects:create"), project_data(budget_people="-5"))

    assert "People: Ensure this value is greater than or equal to 0." in response.content.decode()
    assert not CRMProject.objects.exists()


def test_approved_is_not_offered_as_a_status_to_type_in(as_user, pm):
    html = as_user(pm).get(reverse("projects:create")).content.decode()
    response = as_user(pm).post(reverse("projects:create"), project_data(status="approved"))

    assert '<option value="approved"' not in html
    assert "Select a valid choice" in response.content.decode()


def test_making_a_project_active_before_approval_is_not_offered_nor_accepted(as_user, pm):
    project = ProjectFactory(manager=pm, title="Eager")

    response = as_user(pm).post(
        reverse("projects:edit", args=[project.pk]),
        project_data(title="Eager", status="active", manager=pm.pk, version=project.version),
    )

    html = response.content.decode()
    assert '<option value="active"' not in html
    assert "Status: Select a valid choice. active is not one of the available choices." in html
    project.refresh_from_db()
    assert project.status == ProjectStatus.PROPOSED


def test_the_manager_edits_their_project(as_user, pm):
    project = ProjectFactory(manager=pm)

    response = as_user(pm).post(
        reverse("projects:edit", args=[project.pk]),
        project_data(
            title="Renamed", manager=pm.pk, integration_notes="Order feed", version=project.version
        ),
    )

    project.refresh_from_db()
    assert response.status_code == 302
    assert (project.title, project.integration_notes) == ("Renamed", "Order feed")


def test_the_link_picker_links_a_project_with_rationale_and_weight(as_user, pm):
    project = ProjectFactory(manager=pm)
    keep, drop = CRMStrategyFactory.create_batch(2)
    ProjectLinkFactory(project=project, crm_strategy=drop)
    retired = CRMStrategyFactory(status=StrategyStatus.RETIRED, title="Old strategy")
    client = as_user(pm)

    page = client.get(reverse("projects:links", args=[project.pk])).content.decode()
    response = client.post(
        reverse("projects:links", args=[project.pk]),
        {
            f"links-use_{keep.pk}": "on",
            f"links-rationale_{keep.pk}": "Partners register deals",
            f"links-weight_{keep.pk}": "70",
        },
    )

    assert "Old strategy" not in page
    assert retired.title not in page
    assert f'for="id_links-rationale_{keep.pk}">How it serves “{keep.title}”' in page
    assert response.status_code == 302
    link = project.links.get()
    assert (link.crm_strategy, link.rationale, link.weight) == (keep, "Partners register deals", 70)


def test_a_link_weight_out_of_range_is_refused(as_user, pm):
    project = ProjectFactory(manager=pm)
    strategy = CRMStrategyFactory()

    response = as_user(pm).post(
        reverse("projects:links", args=[project.pk]),
        {f"links-use_{strategy.pk}": "on", f"links-weight_{strategy.pk}": "500"},
    )

    assert "Weight: Ensure this value is less than or equal to 100." in response.content.decode()
    assert not project.links.exists()


def test_adding_an_untraced_feature_inline_raises_its_flag_and_linking_it_clears_it(
    as_user, pm, django_capture_on_commit_callbacks
):
    project = ProjectLinkFactory(project__manager=pm).project
    strategy = project.links.get().crm_strategy
    client = as_user(pm)

    with django_capture_on_commit_callbacks(execute=True):
        added = client.post(
            reverse("projects:feature_create", args=[project.pk]),
            {
                "new-feature-title": "Deal registration",
                "new-feature-priority": "1",
                "new-feature-status": "planned",
            },
            **HTMX,
        )
    feature = project.features.get()

    assert added.status_code == 200
    assert "flagsChanged" in json.loads(added.headers["HX-Trigger"])
    assert '<section class="card" id="features"' in added.content.decode()
    assert "Deal registration" in added.content.decode()
    assert "feature.untraced" in open_flags(project)
    assert 'data-rule="feature.untraced"' in flags_panel(client, project)

    with django_capture_on_commit_callbacks(execute=True):
        linked = client.post(
            reverse("projects:feature_links", args=[feature.pk]),
            {
                f"links-{feature.pk}-use_{strategy.pk}": "on",
                f"links-{feature.pk}-rationale_{strategy.pk}": "Partners log their deals",
            },
            **HTMX,
        )

    assert linked.status_code == 200
    assert "flagsChanged" in json.loads(linked.headers["HX-Trigger"])
    assert f'<li class="feature-row" id="feature-{feature.pk}">' in linked.content.decode()
    assert "feature.untraced" not in open_flags(project)
    assert 'data-rule="feature.untraced"' not in flags_panel(client, project)


def test_a_feature_without_a_title_comes_back_with_the_error_inline(as_user, pm):
    project = ProjectFactory(manager=pm)

    response = as_user(pm).post(
        reverse("projects:feature_create", args=[project.pk]),
        {"new-feature-priority": "1", "new-feature-status": "planned"},
        **HTMX,
    )

    assert "Title: This field is required." in response.content.decode()
    assert "HX-Trigger" not in response.headers
    assert not project.features.exists()


def test_a_duplicate_feature_title_is_refused(as_user, pm):
    project = ProjectFactory(manager=pm)
    FeatureFactory(project=project, title="Twice")

    response = as_user(pm).post(
        reverse("projects:feature_create", args=[project.pk]),
        {
            "new-feature-title": "Twice",
            "new-feature-priority": "2",
            "new-feature-status": "planned",
        },
        **HTMX,
    )

    assert "This project already has a feature named “Twice”." in response.content.decode()
    assert project.features.count() == 1


def test_features_move_up_and_down(as_user, pm):
    project = ProjectFactory(manager=pm)
    first = FeatureFactory(project=project, title="First", position=0)
    second = FeatureFactory(project=project, title="Second", position=1)
    client = as_user(pm)

    response = client.post(
        reverse("projects:feature_move", args=[second.pk]), {"direction": "up"}, **HTMX
    )

    assert list(project.features.order_by("position").values_list("title", flat=True)) == [
        "Second",
        "First",
    ]
    assert response.content.decode().index("Second") < response.content.decode().index("First")
    client.post(reverse("projects:feature_move", args=[first.pk]), {"direction": "up"})
    assert project.features.order_by("position").first() == first


def test_moving_the_top_feature_up_changes_nothing(as_user, pm):
    project = ProjectFactory(manager=pm)
    top = FeatureFactory(project=project, position=0)
    FeatureFactory(project=project, position=1)

    response = as_user(pm).post(
        reverse("projects:feature_move", args=[top.pk]), {"direction": "up"}
    )

    assert response.status_code == 302
    assert project.features.order_by("position").first() == top


def test_a_feature_is_edited_inline(as_user, pm):
    feature = FeatureFactory(project__manager=pm, title="Old")
    client = as_user(pm)

    form = client.get(reverse("projects:feature_edit", args=[feature.pk]), **HTMX)
    saved = client.post(
        reverse("projects:feature_edit", args=[feature.pk]),
        {
            f"feature-{feature.pk}-title": "New",
            f"feature-{feature.pk}-priority": "3",
            f"feature-{feature.pk}-status": "in_progress",
            f"feature-{feature.pk}-version": feature.version,
        },
        **HTMX,
    )

    feature.refresh_from_db()
    assert "Save feature" in form.content.decode()
    assert (feature.title, feature.priority, feature.status) == ("New", 3, "in_progress")
    assert f'id="feature-{feature.pk}"' in saved.content.decode()


def test_a_feature_is_deleted(as_user, pm):
    feature = FeatureFactory(project__manager=pm)

    as_user(pm).post(reverse("projects:feature_delete", args=[feature.pk]), **HTMX)

    assert not Feature.objects.exists()


def test_a_metric_whose_target_equals_its_baseline_is_refused_inline(as_user, pm):
    project = ProjectFactory(manager=pm)

    response = as_user(pm).post(
        reverse("projects:metric_create", args=[project.pk]),
        {"metrics-name": "Win rate", "metrics-baseline": "20", "metrics-target": "20"},
        **HTMX,
    )

    assert "Target: The target must differ from the baseline." in response.content.decode()
    assert not project.metrics.exists()


def test_a_metric_a_phase_and_a_check_in_are_added_from_the_project_page(as_user, pm):
    project = ProjectFactory(manager=pm)
    client = as_user(pm)

    metric = client.post(
        reverse("projects:metric_create", args=[project.pk]),
        {
            "metrics-name": "Win rate",
            "metrics-unit": "%",
            "metrics-baseline": "20",
            "metrics-target": "30",
        },
        **HTMX,
    )
    phase = client.post(
        reverse("projects:phase_create", args=[project.pk]),
        {
            "phases-name": "Pilot",
            "phases-kind": "phase",
            "phases-start_date": "2026-01-01",
            "phases-end_date": "2026-03-01",
        },
    )
    check_in = client.post(
        reverse("projects:check_in_create", args=[project.pk]),
        {
            "check_ins-checked_in_on": "2026-02-01",
            "check_ins-health": "at_risk",
            "check_ins-summary": "Pilot is slower",
        },
        **HTMX,
    )

    assert '<section class="card" id="metrics"' in metric.content.decode()
    assert "flagsChanged" in json.loads(metric.headers["HX-Trigger"])
    assert phase.status_code == 302 and phase.url.endswith("#phases")
    assert "Pilot is slower" in check_in.content.decode()
    assert project.metrics.get().target == Decimal("30")
    assert project.phases.get().name == "Pilot"
    assert project.check_ins.get().health == "at_risk"


def test_a_phase_ending_before_it_starts_is_refused_without_htmx_on_its_own_page(as_user, pm):
    project = ProjectFactory(manager=pm)

    response = as_user(pm).post(
        reverse("projects:phase_create", args=[project.pk]),
        {
            "phases-name": "Backwards",
            "phases-kind": "phase",
            "phases-start_date": "2026-03-01",
            "phases-end_date": "2026-01-01",
        },
    )

    assert response.status_code == 200
    assert "The end date must be on or after the start date." in response.content.decode()
    assert not project.phases.exists()


def test_metrics_and_phases_are_edited_and_deleted(as_user, pm):
    metric = SuccessMetricFactory(project__manager=pm, name="Old name")
    phase = RoadmapPhaseFactory(project=metric.project)
    client = as_user(pm)

    client.post(
        reverse("projects:metric_edit", args=[metric.pk]),
        {"name": "New name", "baseline": "1", "target": "5", "version": metric.version},
    )
    client.post(
        reverse("projects:phase_edit", args=[phase.pk]),
        {"name": "Renamed", "kind": "milestone", "version": phase.version},
    )
    metric.refresh_from_db()
    phase.refresh_from_db()
    assert (metric.name, phase.name, phase.kind) == ("New name", "Renamed", "milestone")

    client.post(reverse("projects:metric_delete", args=[metric.pk]))
    client.post(reverse("projects:phase_delete", args=[phase.pk]))
    assert not metric.project.metrics.exists() and not metric.project.phases.exists()


# --- approval -----------------------------------------------------------------------------


def test_approval_is_refused_with_the_reasons_when_metrics_are_missing(as_user, sponsor):
    project = ProjectFactory(sponsor=sponsor)
    RoadmapPhaseFactory(project=project)
    client = as_user(sponsor)

    response = client.post(reverse("alignment:project_approve", args=[project.pk]), follow=True)

    assert "Cannot approve until a success metric has a baseline and a target." in (
        response.content.decode()
    )
    project.refresh_from_db()
    assert project.status == ProjectStatus.PROPOSED


def test_the_sponsor_approves_a_ready_project(as_user, sponsor):
    project = ProjectFactory(sponsor=sponsor)
    SuccessMetricFactory(project=project)
    RoadmapPhaseFactory(project=project)

    url = reverse("alignment:project_approve", args=[project.pk])
    response = as_user(sponsor).post(url, follow=True)

    assert url == f"/projects/{project.pk}/approve/"
    project.refresh_from_db()
    assert project.status == ProjectStatus.APPROVED
    assert project.approved_by == sponsor
    assert "approved." in response.content.decode()


def test_the_approve_button_shows_only_to_those_who_may_approve(as_user, sponsor, pm):
    project = ProjectFactory(sponsor=sponsor, manager=pm)
    url = reverse("projects:detail", args=[project.pk])

    assert "Approve project" in as_user(sponsor).get(url).content.decode()
    assert "Approve project" not in as_user(pm).get(url).content.decode()


@pytest.mark.parametrize("role", ["pm", "viewer", "other_pm"])
def test_approval_by_anyone_else_is_forbidden(request, as_user, role, sponsor):
    project = ProjectFactory(sponsor=sponsor)
    SuccessMetricFactory(project=project)
    RoadmapPhaseFactory(project=project)

    response = as_user(request.getfixturevalue(role)).post(
        reverse("alignment:project_approve", args=[project.pk])
    )

    assert response.status_code == 403
    project.refresh_from_db()
    assert project.status == ProjectStatus.PROPOSED


def test_approval_by_a_user_without_a_role_is_not_found(as_user, nobody, sponsor):
    project = ProjectFactory(sponsor=sponsor)
    SuccessMetricFactory(project=project)
    RoadmapPhaseFactory(project=project)

    response = as_user(nobody).post(reverse("alignment:project_approve", args=[project.pk]))

    assert response.status_code == 404
    project.refresh_from_db()
    assert project.status == ProjectStatus.PROPOSED


def test_approval_is_a_post_only_address(as_user, sponsor):
    project = ProjectFactory(sponsor=sponsor)

    response = as_user(sponsor).get(reverse("alignment:project_approve", args=[project.pk]))

    assert response.status_code == 405


def test_off_scope_links_are_marked_on_the_project_the_feature_and_the_link_picker(as_user, pm):
    served = ProjectLinkFactory(project__manager=pm, crm_strategy__title="Served one")
    project, crm = served.project, served.crm_strategy
    outside = CRMStrategyFactory(title="Outside one")
    feature = FeatureFactory(project=project, title="Creeping")
    FeatureLinkFactory(feature=feature, crm_strategy=crm)
    FeatureLinkFactory(feature=feature, crm_strategy=outside)
    client = as_user(pm)

    page = client.get(reverse("projects:detail", args=[project.pk])).content.decode()
    detail = client.get(reverse("projects:feature_detail", args=[feature.pk])).content.decode()
    picker = client.get(reverse("projects:feature_links", args=[feature.pk])).content.decode()

    start = page.index(f'id="feature-{feature.pk}"')
    row = page[start : page.index("</li>", start)]
    assert row.count(">off scope</span>") == 1
    # Links by title: the badge follows "Outside one", and "Served one" has none.
    assert row.index("Outside one") < row.index(">off scope</span>") < row.index("Served one")
    assert detail.count("off scope: the project does not serve it") == 1
    assert detail.index("Outside one") < detail.index("off scope: the project does not serve it")
    rows = {
        title: row
        for row in picker.split("<tr>")
        for title in ("Served one", "Outside one")
        if title in row
    }
    assert "Project serves it" in rows["Served one"]
    assert "Project serves it" not in rows["Outside one"]
