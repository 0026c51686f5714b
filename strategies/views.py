"""Strategy pages: CRM strategies (with the business strategies they serve and the capabilities
they build) and business strategies (how a goal is reached). Writes go through services."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from core.permissions import can_manage_strategy, get_visible_or_404
from core.services import require
from core.views import create_view, edit_view, form_page, list_page, retire_view, submit_form

from . import services
from .access import business_strategy_for, crm_strategy_for
from .filters import BusinessStrategyFilterSet, CRMStrategyFilterSet
from .forms import BusinessStrategyForm, CRMStrategyForm
from .models import BusinessStrategy, CRMStrategy, StrategyStatus
from .selectors import (
    business_strategies_with_counts,
    crm_strategies_to_list,
    crm_strategies_with_trace,
)

# ---------- CRM strategies ----------


def crm_list(request: HttpRequest) -> HttpResponse:
    rows = crm_strategies_with_trace().prefetch_related(
        Prefetch(
            "business_strategies",
            queryset=BusinessStrategy.objects.select_related("goal").order_by("title"),
        )
    )
    filterset = CRMStrategyFilterSet(request.GET, crm_strategies_to_list(), request=request)
    # Counts and anchoring for the page's strategies only (core.lists).
    context = list_page(request, filterset, bar=("status", "is_anchored"), rows=rows)
    return render(request, "strategies/crm_list.html", {**context, "tab": "crm"})


def crm_detail(request: HttpRequest, pk: int) -> HttpResponse:
    strategy = get_visible_or_404(crm_strategies_with_trace(), request.user, pk=pk)
    served = (
        business_strategies_with_counts()
        .filter(served_by__crm_strategy=strategy)
        .order_by("goal__title", "title")
    )
    return render(
        request,
        "strategies/crm_detail.html",
        {
            "strategy": strategy,
            "served": served,
        },
    )


def _crm_crumbs(strategy: CRMStrategy | None = None) -> list[tuple[str, str]]:
    crumbs = [(reverse("strategies:list"), "CRM strategies")]
    if strategy is not None:
        crumbs.append((strategy.get_absolute_url(), strategy.title))
    return crumbs


crm_create = create_view(
    permitted=can_manage_strategy,
    refusal="Only executives define CRM strategies.",
    form_class=CRMStrategyForm,
    create=services.crm_strategy_create,
    heading="New CRM strategy",
    crumbs=_crm_crumbs,
    button="Create CRM strategy",
    cancel=lambda: reverse("strategies:list"),
    saved=lambda strategy: f"CRM strategy “{strategy}” created.",
    intro="What CRM will do for the business: the customer need, the business strategies it "
    "serves and the capabilities it builds.",
)


crm_edit = edit_view(
    fetch=crm_strategy_for,
    form_class=CRMStrategyForm,
    update=services.crm_strategy_update,
    id_kwarg="crm_strategy_id",
    heading=lambda strategy: f"Edit “{strategy.title}”",
    crumbs=lambda strategy: _crm_crumbs(strategy),
    button="Save CRM strategy",
    saved=lambda strategy: f"CRM strategy “{strategy}” saved.",
)


crm_retire = retire_view(
    fetch=crm_strategy_for,
    update=services.crm_strategy_update,
    id_kwarg="crm_strategy_id",
    status=StrategyStatus.RETIRED,
    refusal="Only executives retire CRM strategies.",
    retired=lambda strategy: f"CRM strategy “{strategy}” retired; links to it stop tracing.",
)


# ---------- business strategies ----------


def business_list(request: HttpRequest) -> HttpResponse:
    filterset = BusinessStrategyFilterSet(
        request.GET, business_strategies_with_counts(), request=request
    )
    context = list_page(request, filterset, bar=("goal", "status"))
    return render(request, "strategies/business_list.html", {**context, "tab": "business"})


def business_detail(request: HttpRequest, pk: int) -> HttpResponse:
    strategy = get_visible_or_404(business_strategies_with_counts(), request.user, pk=pk)
    crm = crm_strategies_with_trace().filter(serves__business_strategy=strategy).order_by("title")
    return render(
        request,
        "strategies/business_detail.html",
        {
            "strategy": strategy,
            "crm_strategies": crm,
        },
    )


def _business_crumbs(strategy: BusinessStrategy | None = None) -> list[tuple[str, str]]:
    crumbs = [(reverse("strategies:business_list"), "Business strategies")]
    if strategy is not None:
        crumbs = [
            (reverse("goals:list"), "Goals"),
            (strategy.goal.get_absolute_url(), strategy.goal.title),
            (strategy.get_absolute_url(), strategy.title),
        ]
    return crumbs


def _create_business_strategy(request: HttpRequest, changes: dict[str, Any]) -> BusinessStrategy:
    goal = changes.pop("goal")
    return services.business_strategy_create(actor=request.user, goal_id=goal.pk, **changes)


def business_create(request: HttpRequest) -> HttpResponse:
    require(can_manage_strategy(request.user), "Only executives define business strategies.")
    initial = {}
    if request.GET.get("goal", "").isdigit():
        initial["goal"] = int(request.GET["goal"])
    form = BusinessStrategyForm(request.POST or None, initial=initial)
    return submit_form(
        request,
        form,
        lambda changes, _: _create_business_strategy(request, changes),
        success=lambda strategy: f"Business strategy “{strategy}” created.",
    ) or form_page(
        request,
        form,
        "New business strategy",
        crumbs=_business_crumbs(),
        intro="How a goal will be reached, for a scope such as a market segment.",
        button="Create business strategy",
        cancel_url=reverse("strategies:business_list"),
    )


business_edit = edit_view(
    fetch=business_strategy_for,
    form_class=BusinessStrategyForm,
    update=services.business_strategy_update,
    id_kwarg="business_strategy_id",
    heading=lambda strategy: f"Edit “{strategy.title}”",
    crumbs=lambda strategy: _business_crumbs(strategy),
    button="Save business strategy",
    saved=lambda strategy: f"Business strategy “{strategy}” saved.",
)


business_retire = retire_view(
    fetch=business_strategy_for,
    update=services.business_strategy_update,
    id_kwarg="business_strategy_id",
    status=StrategyStatus.RETIRED,
    refusal="Only executives retire business strategies.",
    retired=lambda strategy: f"Business strategy “{strategy}” retired.",
)
