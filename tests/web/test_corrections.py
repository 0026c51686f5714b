"""Correcting mistakes: KPI readings and check-ins are corrected or deleted by whoever may add
them (services with optimistic concurrency, pages, API); deleting a metric, phase, KPI, reading
or check-in asks first on a page of its own (no script needed)."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from goals import services as goal_services
from goals.models import KPI, KPICheckIn
from projects import services as project_services
from projects.models import ProjectCheckIn, SuccessMetric
from tests.factories import (
    KPIFactory,
    ProjectCheckInFactory,
    ProjectFactory,
    SuccessMetricFactory,
)

pytestmark = pytest.mark.django_db

JAN, FEB = datetime.date(2026, 1, 31), datetime.date(2026, 2, 28)


@pytest.fixture
def kpi_with_a_typo(executive):
    kpi = KPIFactory(unit="%")
    goal_services.kpi_check_in(actor=executive, kpi_id=kpi.pk, value=Decimal("31"), recorded_on=JAN)
    typo = goal_services.kpi_check_in(
        actor=executive, kpi_id=kpi.pk, value=Decimal("1300"), recorded_on=FEB
    )
    return kpi, typo


def test_a_reading_typed_wrong_is_corrected_and_the_kpi_follows(executive, kpi_with_a_typo):
    kpi, typo = kpi_with_a_typo
    assert KPI.objects.get(pk=kpi.pk).current == Decimal("1300")
    goal_services.kpi_reading_update(
        actor=executive, reading_id=typo.pk, changes={"value": Decimal("32")}, version=1
    )
    stored = KPICheckIn.objects.get(pk=typo.pk)
    assert stored.value == Decimal("32") and stored.version == 2
    assert stored.updated_by == executive
    assert KPI.objects.get(pk=kpi.pk).current == Decimal("32")
    # A second correction from the same stale page is refused, naming who changed it.
    from core.services import EditConflict

    with pytest.raises(EditConflict):
        goal_services.kpi_reading_update(
            actor=executive, reading_id=typo.pk, changes={"value": Decimal("33")}, version=1
        )
    assert KPICheckIn.objects.get(pk=typo.pk).value == Decimal("32")


def test_deleting_a_reading_moves_the_kpi_back_to_the_newest_left(executive, kpi_with_a_typo):
    kpi, typo = kpi_with_a_typo
    goal_services.kpi_reading_delete(actor=executive, reading_id=typo.pk)
    assert not KPICheckIn.objects.filter(pk=typo.pk).exists()
    assert KPI.objects.get(pk=kpi.pk).current == Decimal("31")


def test_only_who_may_record_readings_corrects_them(executive, viewer, pm, nobody, kpi_with_a_typo):
    _kpi, typo = kpi_with_a_typo
    for user in (viewer, pm):
        with pytest.raises(PermissionDenied):
            goal_services.kpi_reading_delete(actor=user, reading_id=typo.pk)
    with pytest.raises(Http404):
        goal_services.kpi_reading_update(actor=nobody, reading_id=typo.pk, changes={"note": "x"})
    with pytest.raises(ValidationError) as refused:
        goal_services.kpi_reading_update(actor=executive, reading_id=typo.pk, changes={"kpi": 1})
    assert "kpi" in refused.value.message_dict
    assert KPICheckIn.objects.filter(pk=typo.pk).exists()


def test_a_check_in_is_corrected_and_deleted_by_the_manager(pm, other_pm):
    project = ProjectFactory(manager=pm)
    check_in = project_services.project_check_in(
        actor=pm, project_id=project.pk, summary="Pilot live in two regoins."
    )
    project_services.project_check_in_update(
        actor=pm,
        check_in_id=check_in.pk,
        changes={"summary": "Pilot live in two regions.", "health": "at_risk"},
        version=1,
    )
    stored = ProjectCheckIn.objects.get(pk=check_in.pk)
    assert (stored.summary, stored.health, stored.version) == (
        "Pilot live in two regions.",
        "at_risk",
        2,
    )
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    with pytest.raises(ValidationError) as refused:
        project_services.project_check_in_update(
            actor=pm, check_in_id=check_in.pk, changes={"checked_in_on": tomorrow}
        )
    assert "checked_in_on" in refused.value.message_dict
    with pytest.raises(PermissionDenied):
        project_services.project_check_in_delete(actor=other_pm, check_in_id=check_in.pk)
    project_services.project_check_in_delete(actor=pm, check_in_id=check_in.pk, version=2)
    assert not ProjectCheckIn.objects.filter(pk=check_in.pk).exists()


def test_the_pages_correct_and_delete_a_reading_after_asking(as_user, executive, kpi_with_a_typo):
    kpi, typo = kpi_with_a_typo
    client = as_user(executive)
    goal_page = client.get(kpi.goal.get_absolute_url()).content.decode()
    edit = reverse("goals:kpi_reading_edit", args=[typo.pk])
    delete = reverse("goals:kpi_reading_delete", args=[typo.pk])
    assert edit in goal_page and delete in goal_page
    form = client.get(edit)
    assert form.status_code == 200 and "1300" in form.content.decode()
    response = client.post(
        edit,
        {
            "value": "32",
            "recorded_on": FEB.isoformat(),
            "note": "",
            "version": "1",
            "initial-value": "1300.00",
            "initial-recorded_on": FEB.isoformat(),
            "initial-note": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert KPICheckIn.objects.get(pk=typo.pk).value == Decimal("32")
    # Delete asks first: the page changes nothing; its button deletes.
    ask = client.get(delete)
    assert ask.status_code == 200 and "Delete the KPI check-in" in ask.content.decode()
    assert KPICheckIn.objects.filter(pk=typo.pk).exists()
    assert client.post(delete, {"version": "2"}).status_code == 302
    assert not KPICheckIn.objects.filter(pk=typo.pk).exists()


def test_deleting_a_metric_asks_first_on_a_page(as_user, pm):
    project = ProjectFactory(manager=pm)
    metric = SuccessMetricFactory(project=project)
    client = as_user(pm)
    delete = reverse("projects:metric_delete", args=[metric.pk])
    assert delete in client.get(project.get_absolute_url()).content.decode()
    page = client.get(delete)
    assert page.status_code == 200 and "Cancel" in page.content.decode()
    assert SuccessMetric.objects.filter(pk=metric.pk).exists()
    client.post(delete, {"version": metric.version})
    assert not SuccessMetric.objects.filter(pk=metric.pk).exists()


def test_the_project_page_corrects_and_deletes_a_check_in(as_user, pm, viewer):
    project = ProjectFactory(manager=pm)
    check_in = ProjectCheckInFactory(project=project, author=pm)
    client = as_user(pm)
    edit = reverse("projects:check_in_edit", args=[check_in.pk])
    delete = reverse("projects:check_in_delete", args=[check_in.pk])
    assert edit in client.get(project.get_absolute_url()).content.decode()
    assert as_user(viewer).get(edit).status_code == 403
    client = as_user(pm)
    assert client.get(delete).status_code == 200
    client.post(delete, {"version": "1"})
    assert not ProjectCheckIn.objects.filter(pk=check_in.pk).exists()


def api(user):
    from rest_framework.test import APIClient

    from tests.tokens import token_for

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


def test_the_api_corrects_and_deletes_readings_and_check_ins(
    executive, pm, viewer, kpi_with_a_typo
):
    kpi, typo = kpi_with_a_typo
    exec_api = api(executive)
    got = exec_api.get(f"/api/kpi-readings/{typo.pk}/")
    assert got.status_code == 200 and got["ETag"] == '"1"' and got.json()["kpi"] == kpi.pk
    stale = exec_api.patch(
        f"/api/kpi-readings/{typo.pk}/", {"value": "32"}, format="json", HTTP_IF_MATCH='"7"'
    )
    assert stale.status_code == 412
    bad = exec_api.patch(f"/api/kpi-readings/{typo.pk}/", {"value": "lots"}, format="json")
    assert bad.status_code == 400 and "value" in bad.json()
    assert api(viewer).patch(f"/api/kpi-readings/{typo.pk}/", {"value": "1"}).status_code == 403
    fixed = exec_api.patch(
        f"/api/kpi-readings/{typo.pk}/", {"value": "32"}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert fixed.status_code == 200 and fixed.json()["value"] == "32.00"
    assert KPI.objects.get(pk=kpi.pk).current == Decimal("32")
    assert exec_api.delete(f"/api/kpi-readings/{typo.pk}/").status_code == 204
    assert KPI.objects.get(pk=kpi.pk).current == Decimal("31")

    check_in = ProjectCheckInFactory(project=ProjectFactory(manager=pm))
    pm_api = api(pm)
    fixed = pm_api.patch(
        f"/api/project-check-ins/{check_in.pk}/", {"health": "off_track"}, format="json"
    )
    assert fixed.status_code == 200 and fixed.json()["version"] == 2
    moved = pm_api.patch(
        f"/api/project-check-ins/{check_in.pk}/",
        {"project": ProjectFactory(manager=pm).pk},
        format="json",
    )
    assert moved.status_code == 400 and "project" in moved.json()
    assert pm_api.delete(f"/api/project-check-ins/{check_in.pk}/").status_code == 204
