"""Strategy pages: CRM strategies (with the business strategies they serve and the capabilities
they build) and business strategies (how a goal is reached). Writes go through services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.forms import add_service_errors, refusal_message
from core.permissions import can_manage_strategy, get_visible_or_404
from core.views import form_page, list_page, require_reader

from . import services
from .filters import BusinessStrategyFilterSet, CRMStrategyFilterSet
from .forms import BusinessStrategyForm, CRMStrategyForm
from .models import BusinessStrategy, CRMStrategy, StrategyStatus
from .selectors import business_strategies_with_counts, crm_strategies_with_trace


def _require_executive(request: HttpRequest, action: str) -> None:
    if not can_manage_strategy(request.user):
        raise PermissionDenied(f"Only executives {action}.")


def _retire(request: HttpRequest, strategy: Any, update: Any, done: str) -> HttpResponse:
    """Retire through the strategy's update service; a refusal is shown, never a 500."""
    try:
        update(strategy=strategy, actor=request.user, status=StrategyStatus.RETIRED)
    except ValidationError as error:
        messages.error(request, refusal_message(error))
    else:
        messages.success(request, done)
    return redirect(strategy)


# ---------- CRM strategies ----------


@login_required
def crm_list(request: HttpRequest) -> HttpResponse:
    require_reader(request)
    strategies = crm_strategies_with_trace().prefetch_related(
        Prefetch(
            "business_strategies",
            queryset=BusinessStrategy.objects.select_related("goal").order_by("title"),
        )
    )
    filterset = CRMStrategyFilterSet(request.GET, strategies, request=request)
    context = list_page(request, filterset, bar=("status", "is_anchored"))
    return render(request, "strategies/crm_list.html", {**context, "tab": "crm"})


@login_required
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


@login_required
def crm_create(request: HttpRequest) -> HttpResponse:
    require_reader(request)
    _require_executive(request, "define CRM strategies")
    form = CRMStrategyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            strategy = services.crm_strategy_create(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"CRM strategy “{strategy}” created.")
            return redirect(strategy)
    return form_page(
        request,
        form,
        "New CRM strategy",
        crumbs=_crm_crumbs(),
        intro="What CRM will do for the business: the customer need, the business strategies "
        "it serves and the capabilities it builds.",
        button="Create CRM strategy",
        cancel_url=reverse("strategies:list"),
    )


@login_required
def crm_edit(request: HttpRequest, pk: int) -> HttpResponse:
    strategy = get_visible_or_404(CRMStrategy.objects.all(), request.user, pk=pk)
    _require_executive(request, "change CRM strategies")
    form = CRMStrategyForm(request.POST or None, instance=strategy)
    if request.method == "POST" and form.is_valid():
        try:
            services.crm_strategy_update(strategy=strategy, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"CRM strategy “{strategy}” saved.")
            return redirect(strategy)
    return form_page(
        request,
        form,
        f"Edit “{strategy.title}”",
        crumbs=_crm_crumbs(strategy),
        button="Save CRM strategy",
        cancel_url=strategy.get_absolute_url(),
    )


@login_required
@require_POST
def crm_retire(request: HttpRequest, pk: int) -> HttpResponse:
    strategy = get_visible_or_404(CRMStrategy.objects.all(), request.user, pk=pk)
    _require_executive(request, "retire CRM strategies")
    return _retire(
        request,
        strategy,
        services.crm_strategy_update,
        f"CRM strategy “{strategy}” retired; links to it stop tracing.",
    )


# ---------- business strategies ----------


@login_required
def business_list(request: HttpRequest) -> HttpResponse:
    require_reader(request)
    filterset = BusinessStrategyFilterSet(
        request.GET, business_strategies_with_counts(), request=request
    )
    context = list_page(request, filterset, bar=("goal", "status"))
    return render(request, "strategies/business_list.html", {**context, "tab": "business"})


@login_required
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


@login_required
def business_create(request: HttpRequest) -> HttpResponse:
    require_reader(request)
    _require_executive(request, "define business strategies")
    initial = {}
    if request.GET.get("goal", "").isdigit():
        initial["goal"] = int(request.GET["goal"])
    form = BusinessStrategyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            strategy = services.business_strategy_create(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Business strategy “{strategy}” created.")
            return redirect(strategy)
    return form_page(
        request,
        form,
        "New business strategy",
        crumbs=_business_crumbs(),
        intro="How a goal will be reached, for a scope such as a market segment.",
        button="Create business strategy",
        cancel_url=reverse("strategies:business_list"),
    )


@login_required
def business_edit(request: HttpRequest, pk: int) -> HttpResponse:
    strategy = get_visible_or_404(
        BusinessStrategy.objects.select_related("goal"), request.user, pk=pk
    )
    _require_executive(request, "change business strategies")
    form = BusinessStrategyForm(request.POST or None, instance=strategy)
    if request.method == "POST" and form.is_valid():
        try:
            services.business_strategy_update(
                strategy=strategy, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Business strategy “{strategy}” saved.")
            return redirect(strategy)
    return form_page(
        request,
        form,
        f"Edit “{strategy.title}”",
        crumbs=_business_crumbs(strategy),
        button="Save business strategy",
        cancel_url=strategy.get_absolute_url(),
    )


@login_required
@require_POST
def business_retire(request: HttpRequest, pk: int) -> HttpResponse:
    strategy = get_visible_or_404(BusinessStrategy.objects.all(), request.user, pk=pk)
    _require_executive(request, "retire business strategies")
    return _retire(
        request,
        strategy,
        services.business_strategy_update,
        f"Business strategy “{strategy}” retired.",
    )
