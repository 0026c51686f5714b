"""The integration register and benefits review in the browser (without JavaScript): the
systems catalogue, a project's systems picked by name, readings of its metrics, and the done
project's before / after go-live. Bad input is an error on the field, never a 500; the pages
cost the same for a few rows as for many."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from projects.models import MetricReading, PhaseKind, ProjectStatus, ProjectSystem, System
from tests.factories import (
    MetricReadingFactory,
    ProjectFactory,
    ProjectSystemFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
    SystemFactory,
)

pytestmark = pytest.mark.django_db


def _today():
    return timezone.localdate()


def test_a_manager_adds_a_system_by_name_and_it_shows_on_both_sides(as_user, pm):
    project = ProjectFactory(manager=pm)
    erp = SystemFactory(name="ERP")
    client = as_user(pm)

    response = client.post(
        reverse("projects:project_system_create", args=[project.pk]),
        {"system-system": "erp", "system-status": "designed", "system-owner": "pm"},
    )

    assert response.status_code == 302
    row = ProjectSystem.objects.get(project=project)
    assert (row.system, row.status, row.owner) == (erp, "designed", pm)
    assert "ERP" in client.get(project.get_absolute_url()).content.decode()
    register = client.get(reverse("projects:system_detail", args=[erp.pk])).content.decode()
    assert project.title in register


def test_an_unknown_system_or_a_second_listing_is_an_error_on_the_field(as_user, pm):
    project = ProjectFactory(manager=pm)
    erp = SystemFactory(name="ERP")
    ProjectSystemFactory(project=project, system=erp)
    client = as_user(pm)
    url = reverse("projects:project_system_create", args=[project.pk])

    unknown = client.post(url, {"system-system": "SAP", "system-status": "designed"})
    twice = client.post(url, {"system-system": "ERP", "system-status": "designed"})

    assert unknown.status_code == 200
    assert "No system named “SAP”" in unknown.content.decode()
    assert twice.status_code == 200
    assert "already lists this system" in twice.content.decode()
    assert ProjectSystem.objects.filter(project=project).count() == 1


def test_another_manager_cannot_add_a_system_to_a_project_not_theirs(as_user, pm, other_pm):
    project = ProjectFactory(manager=other_pm)
    SystemFactory(name="ERP")
    response = as_user(pm).post(
        reverse("projects:project_system_create", args=[project.pk]),
        {"system-system": "ERP", "system-status": "designed"},
    )
    assert response.status_code == 403
    assert not ProjectSystem.objects.exists()


def test_only_admins_add_systems_and_names_are_unique_ignoring_case(as_user, admin_user, executive):
    SystemFactory(name="Billing")
    refused = as_user(executive).post(reverse("projects:system_create"), {"name": "ERP"})
    assert refused.status_code == 403

    client = as_user(admin_user)
    duplicate = client.post(
        reverse("projects:system_create"), {"name": "BILLING", "owner": "admin"}
    )
    added = client.post(reverse("projects:system_create"), {"name": "ERP", "owner": "admin"})

    assert duplicate.status_code == 200
    assert "A system named “Billing” already exists." in duplicate.content.decode()
    assert added.status_code == 302
    assert sorted(System.objects.values_list("name", flat=True)) == ["Billing", "ERP"]


def test_a_system_projects_touch_cannot_be_deleted(as_user, admin_user):
    row = ProjectSystemFactory(system=SystemFactory(name="ERP"))
    client = as_user(admin_user)
    response = client.post(reverse("projects:system_delete", args=[row.system_id]), follow=True)
    assert "projects still list it" in response.content.decode()
    assert System.objects.filter(pk=row.system_id).exists()


def test_a_reading_sets_the_metrics_current_and_the_page_shows_before_and_after_go_live(
    as_user, pm
):
    project = ProjectFactory(manager=pm, status=ProjectStatus.DONE)
    metric = SuccessMetricFactory(project=project, name="Win rate", baseline=Decimal("10"))
    go_live = _today() - datetime.timedelta(days=100)
    RoadmapPhaseFactory(project=project, kind=PhaseKind.MILESTONE, go_live=True, start_date=go_live)
    MetricReadingFactory(metric=metric, recorded_on=go_live - datetime.timedelta(days=5))
    client = as_user(pm)

    response = client.post(
        reverse("projects:metric_reading_create", args=[project.pk]),
        {
            "reading-metric": metric.pk,
            "reading-recorded_on": (_today() - datetime.timedelta(days=3)).isoformat(),
            "reading-value": "17.50",
        },
    )

    assert response.status_code == 302
    metric.refresh_from_db()
    assert metric.current == Decimal("17.50")
    page = client.get(project.get_absolute_url()).content.decode()
    assert "Benefits review" in page
    benefits = page[page.index('id="benefits"') :]
    benefits = benefits[: benefits.index("</section>")]
    row = benefits[benefits.index("Win rate") :]
    row = row[: row.index("</tr>")]
    # Before (the baseline), after go-live (the reading after it, not the one before).
    assert '<td class="num">10</td>' in row
    assert "17.5 <small>" in row
    assert "not measured since go-live" not in row


def test_a_reading_in_the_future_or_without_a_value_is_refused_on_its_field(as_user, pm):
    project = ProjectFactory(manager=pm)
    metric = SuccessMetricFactory(project=project)
    url = reverse("projects:metric_reading_create", args=[project.pk])
    client = as_user(pm)

    future = client.post(
        url,
        {
            "reading-metric": metric.pk,
            "reading-recorded_on": (_today() + datetime.timedelta(days=2)).isoformat(),
            "reading-value": "3",
        },
    )
    empty = client.post(url, {"reading-metric": metric.pk, "reading-value": ""})

    assert future.status_code == 200
    assert "cannot be in the future" in future.content.decode()
    assert empty.status_code == 200
    assert not MetricReading.objects.exists()


def test_a_reading_of_another_projects_metric_is_refused(as_user, pm):
    project = ProjectFactory(manager=pm)
    SuccessMetricFactory(project=project)
    stranger = SuccessMetricFactory()
    response = as_user(pm).post(
        reverse("projects:metric_reading_create", args=[project.pk]),
        {"reading-metric": stranger.pk, "reading-value": "3"},
    )
    assert response.status_code == 200
    assert not MetricReading.objects.exists()


def _grow(n):
    for _ in range(n):
        system = SystemFactory()
        project = ProjectFactory()
        ProjectSystemFactory(project=project, system=system)


def test_the_catalogue_costs_the_same_for_2_and_20_systems(as_user, viewer, queries_for):
    as_user(viewer)
    _grow(2)
    few = queries_for(reverse("projects:systems"))
    _grow(18)
    many = queries_for(reverse("projects:systems"))
    assert few == many


def test_the_project_page_costs_the_same_for_2_and_20_systems_and_readings(
    as_user, pm, queries_for
):
    project = ProjectFactory(manager=pm)
    metric = SuccessMetricFactory(project=project)

    def grow(n):
        for _ in range(n):
            ProjectSystemFactory(project=project)
            MetricReadingFactory(metric=metric)

    as_user(pm)
    grow(2)
    few = queries_for(project.get_absolute_url())
    grow(18)
    many = queries_for(project.get_absolute_url())
    assert few == many


def test_the_goal_page_rolls_up_its_projects_metrics_in_bounded_queries(
    as_user, viewer, queries_for
):
    from tests.factories import (
        BusinessStrategyFactory,
        CRMStrategyFactory,
        GoalFactory,
        ProjectLinkFactory,
    )

    goal = GoalFactory()
    crm = CRMStrategyFactory(serves=[BusinessStrategyFactory(goal=goal)])
    elsewhere = ProjectFactory(title="Elsewhere")
    SuccessMetricFactory(project=elsewhere, name="Not this goal's")

    def grow(n):
        for _ in range(n):
            project = ProjectFactory()
            ProjectLinkFactory(project=project, crm_strategy=crm)
            SuccessMetricFactory(project=project, name="Win rate", current=Decimal("7"))

    client = as_user(viewer)
    grow(2)
    few = queries_for(goal.get_absolute_url())
    grow(18)
    many = queries_for(goal.get_absolute_url())
    page = client.get(goal.get_absolute_url()).content.decode()

    assert few == many
    assert "Projects' success metrics" in page
    assert "Win rate" in page
    assert "Not this goal's" not in page
