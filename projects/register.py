"""Pages of the integration register and the benefits review: the systems catalogue
(`/projects/systems/`: everyone reads it, admins change it, as departments), the systems a
project touches and the readings of its success metrics (on the project page, for whoever
may edit the project). Writes go through projects.services; reads through projects.access."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.forms import (
    DateInput,
    PersonField,
    PickedField,
    PickerInput,
    VersionedFormMixin,
    keep_current_people,
)
from core.people import PICKER_LIMIT, holding
from core.permissions import can_edit_project, can_manage_systems, can_read, get_visible_or_404
from core.views import create_view, delete_view, edit_view, form_page, save_form

from . import services
from .access import SYSTEM_REFUSAL, metric_reading_for, project_for, project_system_for, system_for
from .models import CRMProject, MetricReading, ProjectSystem, SuccessMetric, System

# --- forms


def systems_matching(text: str, limit: int) -> list[System]:
    """Up to `limit` systems whose name contains every word of `text`, by name."""
    systems = System.objects.order_by("name")
    for word in text.split()[:5]:
        systems = systems.filter(name__icontains=word)
    return list(systems[:limit])


class SystemPicked(PickedField):
    """A system of the catalogue, typed: its name in any case (or its id), with suggestions
    from `/projects/systems/suggest/`. Nothing of that name is an error on this field."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", PickerInput(lambda: reverse("projects:system_suggestions")))
        super().__init__(System.objects.all(), **kwargs)

    def pick(self, text: str) -> System | None:
        text = text.strip()
        if not text:
            return None
        match = Q(name__iexact=text)
        if text.isdigit() and len(text) < 19:
            match |= Q(pk=int(text))
        found = System.objects.filter(match).first()
        if found is None:
            raise ValidationError(
                f"No system named “{text[:100]}” in the catalogue. Type part of its name and "
                "pick it from the suggestions (an admin adds new systems).",
                code="invalid_choice",
            )
        return found

    def label_of(self, obj: Any) -> str:
        return str(obj.name)


class SystemForm(VersionedFormMixin, forms.ModelForm):
    owner = PersonField(holding(*services.SYSTEM_PEOPLE["owner"]), help_text="Who owns it.")

    class Meta:
        model = System
        fields = services.SYSTEM_FIELDS
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keep_current_people(self, self.instance)


class ProjectSystemForm(VersionedFormMixin, forms.ModelForm):
    system = SystemPicked(help_text="A system from the catalogue.")
    owner = PersonField(
        holding(*services.SYSTEM_PEOPLE["owner"]),
        required=False,
        help_text="Who owns this integration.",
    )

    class Meta:
        model = ProjectSystem
        fields = ["system", *services.PROJECT_SYSTEM_FIELDS]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}
        labels = {"status": "Integration status"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keep_current_people(self, self.instance)
        if self.instance.pk is not None:  # a listed system stays; remove it to change it
            del self.fields["system"]


class MetricReadingForm(VersionedFormMixin, forms.ModelForm):
    class Meta:
        model = MetricReading
        fields = ["metric", *services.METRIC_READING_FIELDS]
        widgets = {"recorded_on": DateInput()}
        labels = {"recorded_on": "Date"}

    def __init__(self, *args: Any, project: CRMProject | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            del self.fields["metric"]
        else:
            metric_field = self.fields["metric"]
            assert isinstance(metric_field, forms.ModelChoiceField)
            metric_field.queryset = SuccessMetric.objects.filter(project=project)


# --- the systems catalogue


def system_list(request: HttpRequest) -> HttpResponse:
    """The catalogue: each system, its owner and how many projects touch it (one query)."""
    if not can_read(request.user):
        raise Http404
    systems = (
        System.objects.select_related("owner")
        .annotate(
            projects_count=Count("project_systems", distinct=True),
            unplanned_count=Count(
                "project_systems",
                filter=Q(project_systems__status="not_started")
                | Q(project_systems__owner__isnull=True),
                distinct=True,
            ),
        )
        .order_by("name")
    )
    return render(
        request,
        "projects/systems.html",
        {"systems": systems, "can_manage": can_manage_systems(request.user)},
    )


@require_GET
def system_suggestions(request: HttpRequest) -> HttpResponse:
    """The system picker's suggestions: up to PICKER_LIMIT systems whose name contains every
    word of `q`. JSON: {"results": [{"id", "name", "label"}], "more": bool}."""
    if not can_read(request.user):
        raise Http404
    query = request.GET.get("q", "").strip()[:100]
    matches = systems_matching(query, limit=PICKER_LIMIT + 1)
    shown = matches[:PICKER_LIMIT]
    return JsonResponse(
        {
            "results": [{"id": s.pk, "name": s.name, "label": s.name} for s in shown],
            "more": len(matches) > len(shown),
        }
    )


def system_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One system and the projects that touch it (the register, from the system's side)."""
    system = get_visible_or_404(System.objects.select_related("owner"), request.user, pk=pk)
    rows = (
        ProjectSystem.objects.filter(system=system)
        .select_related("project", "owner")
        .order_by("project__title")
    )
    return render(
        request,
        "projects/system_detail.html",
        {"system": system, "rows": rows, "can_manage": can_manage_systems(request.user)},
    )


def _systems_crumbs() -> list[tuple[str, str]]:
    return [(reverse("projects:systems"), "Systems")]


system_create = create_view(
    permitted=can_manage_systems,
    refusal=SYSTEM_REFUSAL,
    form_class=SystemForm,
    create=services.system_create,
    heading="New system",
    crumbs=_systems_crumbs,
    button="Add system",
    cancel=lambda: reverse("projects:systems"),
    saved=lambda system: f"System “{system}” added.",
)

system_edit = edit_view(
    fetch=system_for,
    form_class=SystemForm,
    update=services.system_update,
    id_kwarg="system_id",
    heading=lambda system: f"Edit system “{system.name}”",
    crumbs=lambda system: _systems_crumbs(),
    button="Save system",
    saved=lambda system: f"System “{system}” saved.",
)

system_delete = delete_view(
    fetch=system_for,
    delete=services.system_delete,
    id_kwarg="system_id",
    deleted=lambda system: f"System “{system.name}” deleted.",
    page_of=lambda system: _Catalogue(),
)


class _Catalogue:
    """Where a deleted system's page sends you back to: the catalogue."""

    def get_absolute_url(self) -> str:
        return reverse("projects:systems")


# --- on the project page


def project_register_context(request: HttpRequest, project: CRMProject) -> dict[str, Any]:
    """The project page's Systems and Benefits sections: its systems, its metrics with their
    readings, and each metric before (baseline) and after go-live (newest reading after the
    first go-live) — three queries whatever the number of rows."""
    from .selectors import first_go_live_of

    go_live = first_go_live_of(project)
    metrics = list(
        project.metrics.prefetch_related(
            Prefetch("readings", queryset=MetricReading.objects.order_by("-recorded_on", "-id"))
        )
    )
    for metric in metrics:
        readings = list(metric.readings.all())
        metric.reading_list = readings  # type: ignore[attr-defined]
        metric.after_go_live = (  # type: ignore[attr-defined]
            next((r for r in readings if r.recorded_on > go_live), None) if go_live else None
        )
    return {
        "project_systems": list(
            project.systems.select_related("system", "owner").order_by("system__name")
        ),
        "project_system_form": ProjectSystemForm(prefix="system"),
        "benefit_metrics": metrics,
        "first_go_live": go_live,
        "reading_form": MetricReadingForm(prefix="reading", project=project),
        "can_edit": can_edit_project(request.user, project),
    }


def _back(project: CRMProject, anchor: str) -> str:
    return f"{project.get_absolute_url()}#{anchor}"


@require_POST
def project_system_add(request: HttpRequest, pk: int) -> HttpResponse:
    """List a system the project touches (its manager)."""
    project = project_for(request.user, pk, change=True)
    form = ProjectSystemForm(request.POST, prefix="system", instance=ProjectSystem(project=project))
    if form.is_valid():
        added = save_form(
            form,
            lambda changes, _: services.project_system_add(
                actor=request.user, project_id=pk, **changes
            ),
        )
        if added is not None:
            messages.success(request, f"“{added.system}” added to the project's systems.")
            return redirect(_back(project, "systems"))
    return form_page(
        request,
        form,
        "Add a system the project touches",
        crumbs=[(project.get_absolute_url(), project.title)],
        button="Add",
        cancel_url=project.get_absolute_url(),
    )


project_system_edit = edit_view(
    fetch=project_system_for,
    form_class=ProjectSystemForm,
    update=services.project_system_update,
    id_kwarg="project_system_id",
    heading=lambda row: f"Integration with “{row.system.name}”",
    crumbs=lambda row: [(row.project.get_absolute_url(), row.project.title)],
    button="Save",
    saved=lambda row: f"Integration with “{row.system}” saved.",
    page_of=lambda row: row.project,
    anchor="#systems",
)

project_system_remove = delete_view(
    fetch=project_system_for,
    delete=services.project_system_remove,
    id_kwarg="project_system_id",
    deleted=lambda row: f"“{row.system}” removed from the project's systems.",
    page_of=lambda row: row.project,
    anchor="#systems",
)


@require_POST
def metric_reading_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a reading of one of the project's success metrics (its manager)."""
    project = project_for(request.user, pk, change=True)
    if not can_edit_project(request.user, project):
        raise PermissionDenied
    form = MetricReadingForm(request.POST, prefix="reading", project=project)
    if form.is_valid():
        added = save_form(
            form,
            lambda changes, _: services.metric_reading_create(
                actor=request.user, metric_id=changes.pop("metric").pk, **changes
            ),
        )
        if added is not None:
            messages.success(request, f"Reading of “{added.metric.name}” recorded.")
            return redirect(_back(project, "benefits"))
    return form_page(
        request,
        form,
        "Record a metric reading",
        crumbs=[(project.get_absolute_url(), project.title)],
        button="Record",
        cancel_url=project.get_absolute_url(),
    )


metric_reading_edit = edit_view(
    fetch=metric_reading_for,
    form_class=MetricReadingForm,
    update=services.metric_reading_update,
    id_kwarg="reading_id",
    heading=lambda reading: f"Correct the reading of “{reading.metric.name}”",
    crumbs=lambda reading: [
        (reading.metric.project.get_absolute_url(), reading.metric.project.title)
    ],
    button="Save reading",
    saved=lambda reading: "Reading corrected.",
    page_of=lambda reading: reading.metric.project,
    anchor="#benefits",
)

metric_reading_delete = delete_view(
    fetch=metric_reading_for,
    delete=services.metric_reading_delete,
    id_kwarg="reading_id",
    deleted=lambda reading: "Reading deleted.",
    page_of=lambda reading: reading.metric.project,
    anchor="#benefits",
)
