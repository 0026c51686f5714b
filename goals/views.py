"""Goal pages: list, detail (KPIs with their trend, the business strategies under the goal),
create, edit, retire; KPIs and their readings. Writes go through goals.services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from core.permissions import can_manage_strategy, get_visible_or_404
from core.views import (
    create_view,
    delete_view,
    edit_view,
    form_page,
    list_page,
    retire_view,
    submit_form,
)

from . import services
from .access import goal_for, kpi_for, kpi_reading_for
from .filters import GoalFilterSet
from .forms import GoalForm, KPICheckInForm, KPIForm, KPIReadingForm
from .models import KPI, BusinessGoal, GoalStatus
from .selectors import goals_with_counts, kpis_with_history

SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 160, 40, 4


def _goal_crumbs(goal: BusinessGoal) -> list[tuple[str, str]]:
    return [(reverse("goals:list"), "Goals"), (goal.get_absolute_url(), goal.title)]


def sparkline(values: list[Decimal], target: Decimal | None = None) -> dict[str, Any] | None:
    """Points for a small SVG line of `values` (oldest first), scaled to include the target."""
    if not values:
        return None
    scale = [*values, *([target] if target is not None else [])]
    low, high = min(scale), max(scale)
    span = (high - low) or Decimal(1)
    inner_w, inner_h = SPARK_WIDTH - 2 * SPARK_PAD, SPARK_HEIGHT - 2 * SPARK_PAD
    step = inner_w / (len(values) - 1) if len(values) > 1 else 0

    def y(value: Decimal) -> float:
        return round(SPARK_PAD + inner_h - float((value - low) / span) * inner_h, 1)

    points = [
        (round(SPARK_PAD + i * step if len(values) > 1 else SPARK_WIDTH / 2, 1), y(v))
        for i, v in enumerate(values)
    ]
    return {
        "width": SPARK_WIDTH,
        "height": SPARK_HEIGHT,
        "points": " ".join(f"{x},{py}" for x, py in points),
        "last": points[-1],
        "target_y": y(target) if target is not None else None,
    }


def goal_list(request: HttpRequest) -> HttpResponse:
    filterset = GoalFilterSet(request.GET, goals_with_counts(), request=request)
    context = list_page(request, filterset, bar=("status", "priority"))
    return render(request, "goals/goal_list.html", context)


def goal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    goal = get_visible_or_404(goals_with_counts(), request.user, pk=pk)
    kpis = []
    for kpi in kpis_with_history().filter(goal=goal):
        readings = list(kpi.check_ins.all())
        spark = sparkline([r.value for r in readings], kpi.target)
        kpis.append({"kpi": kpi, "readings": readings, "spark": spark})
    return render(
        request,
        "goals/goal_detail.html",
        {
            "goal": goal,
            "kpis": kpis,
            "check_in_form": KPICheckInForm(prefix="reading"),
        },
    )


goal_create = create_view(
    permitted=can_manage_strategy,
    refusal="Only executives define goals.",
    form_class=GoalForm,
    create=services.goal_create,
    heading="New goal",
    crumbs=lambda: [(reverse("goals:list"), "Goals")],
    button="Create goal",
    cancel=lambda: reverse("goals:list"),
    saved=lambda goal: f"Goal “{goal}” created.",
)


goal_edit = edit_view(
    fetch=goal_for,
    form_class=GoalForm,
    update=services.goal_update,
    id_kwarg="goal_id",
    heading=lambda goal: f"Edit “{goal.title}”",
    crumbs=_goal_crumbs,
    button="Save goal",
    saved=lambda goal: f"Goal “{goal}” saved.",
)


goal_retire = retire_view(
    fetch=goal_for,
    update=services.goal_update,
    id_kwarg="goal_id",
    status=GoalStatus.RETIRED,
    refusal="Only executives retire goals.",
    retired=lambda goal: f"Goal “{goal}” retired; its chains no longer count.",
)


def kpi_create(request: HttpRequest, pk: int) -> HttpResponse:
    goal = goal_for(request.user, pk, change=True, refusal="Only executives define KPIs.")
    form = KPIForm(request.POST or None, instance=KPI(goal=goal))
    return submit_form(
        request,
        form,
        lambda changes, _: services.kpi_create(actor=request.user, goal_id=pk, **changes),
        success=lambda kpi: f"KPI “{kpi.name}” added.",
        redirect_to=lambda kpi: goal,
    ) or form_page(
        request,
        form,
        "New KPI",
        crumbs=_goal_crumbs(goal),
        intro=f"A measure of “{goal.title}”: where it starts, where it must get to.",
        button="Add KPI",
        cancel_url=goal.get_absolute_url(),
    )


kpi_edit = edit_view(
    fetch=kpi_for,
    form_class=KPIForm,
    update=services.kpi_update,
    id_kwarg="kpi_id",
    heading=lambda kpi: f"Edit KPI “{kpi.name}”",
    crumbs=lambda kpi: _goal_crumbs(kpi.goal),
    button="Save KPI",
    saved=lambda kpi: f"KPI “{kpi.name}” saved.",
    page_of=lambda kpi: kpi.goal,
)


kpi_delete = delete_view(
    fetch=kpi_for,
    delete=services.kpi_delete,
    id_kwarg="kpi_id",
    deleted=lambda kpi: f"KPI “{kpi.name}” deleted.",
    page_of=lambda kpi: kpi.goal,
)


def kpi_check_in(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a KPI reading; the form sits on the goal page, errors come back on their own page."""
    kpi = kpi_for(request.user, pk, change=True, refusal="Only executives record KPI readings.")
    form = KPICheckInForm(request.POST or None, prefix="reading")
    return submit_form(
        request,
        form,
        lambda changes, _: services.kpi_check_in(actor=request.user, kpi_id=pk, **changes),
        success=f"Reading recorded for “{kpi.name}”.",
        redirect_to=lambda _: kpi.goal,
    ) or form_page(
        request,
        form,
        f"Record a reading of “{kpi.name}”",
        crumbs=_goal_crumbs(kpi.goal),
        button="Save reading",
        cancel_url=kpi.goal.get_absolute_url(),
    )


kpi_reading_edit = edit_view(
    fetch=kpi_reading_for,
    form_class=KPIReadingForm,
    update=services.kpi_reading_update,
    id_kwarg="reading_id",
    heading=lambda reading: f"Correct a reading of “{reading.kpi.name}”",
    crumbs=lambda reading: _goal_crumbs(reading.kpi.goal),
    button="Save reading",
    saved=lambda reading: f"Reading of “{reading.kpi.name}” corrected.",
    page_of=lambda reading: reading.kpi.goal,
)


kpi_reading_delete = delete_view(
    fetch=kpi_reading_for,
    delete=services.kpi_reading_delete,
    id_kwarg="reading_id",
    deleted=lambda reading: f"Reading of “{reading.kpi.name}” deleted.",
    page_of=lambda reading: reading.kpi.goal,
)
