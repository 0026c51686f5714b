"""Changes that can break (or mend) chains ask first, showing their impact.

Retiring, reactivating or deleting a goal or strategy, removing one of the business strategies
a CRM strategy serves, cancelling, unlinking or deleting a project: the button opens a
confirmation page (GET, which changes nothing) listing what would lose its chain — projects
with their budgets, features — and which flags would open, or for a reactivation what would
trace again and which flags would close, as the impact preview computes them
(`alignment.impact`, the rule catalogue itself). Confirming posts the same change, with the
version the page showed, through the same service; Cancel goes back. It works without
JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from core import money
from core.forms import refusal_message
from core.services import EditConflict
from core.views import posted_version
from goals import services as goal_services
from goals.access import goal_for
from projects import services as project_services
from projects.access import project_for
from projects.models import ProjectStatus
from strategies import services as strategy_services
from strategies.access import business_strategy_for, crm_strategy_for

from .impact import preview
from .rules import rule_for

Apply = Callable[[Any, Any, Any, Any], Any]  # (user, object, version, request) → None


@dataclass(frozen=True)
class Change:
    kind: str
    verb: str  # the button's word: "Retire"
    question: str  # "Retire the business strategy “{}”?"
    done: str  # "Business strategy “{}” retired."
    apply: Apply
    mends: bool = False  # a reactivation: show what would trace again
    gone_to: str = ""  # after a delete: this list page


def _status(update: Callable[..., Any], id_kwarg: str, status: str) -> Apply:
    def apply(user: Any, obj: Any, version: Any, request: HttpRequest) -> None:
        update(actor=user, **{id_kwarg: obj.pk}, changes={"status": status}, version=version)

    return apply


def _call(service: Callable[..., Any], id_kwarg: str) -> Apply:
    def apply(user: Any, obj: Any, version: Any, request: HttpRequest) -> None:
        service(actor=user, **{id_kwarg: obj.pk}, version=version)

    return apply


def _chosen(request: HttpRequest, name: str) -> int:
    raw = request.GET.get(name)  # the confirmation form posts to the same address
    try:
        return int(raw or "")
    except ValueError:
        raise Http404(f"Say which {name.replace('_', ' ')} to remove.") from None


def _unserve(user: Any, obj: Any, version: Any, request: HttpRequest) -> None:
    """Stop serving one business strategy (`business_strategy` in the query)."""
    gone = _chosen(request, "business_strategy")
    served = set(obj.serves.values_list("business_strategy_id", flat=True))
    if gone not in served:
        raise Http404("It does not serve that business strategy.")
    strategy_services.crm_strategy_update(
        actor=user,
        crm_strategy_id=obj.pk,
        changes={"business_strategies": sorted(served - {gone})},
        version=version,
    )


def _unlink(user: Any, obj: Any, version: Any, request: HttpRequest) -> None:
    """Remove the project's link to one CRM strategy (`crm_strategy` in the query); the other
    links keep their rationale and weight."""
    gone = _chosen(request, "crm_strategy")
    linked = list(obj.links.order_by("id").values_list("crm_strategy_id", flat=True))
    if gone not in linked:
        raise Http404("The project has no link to that CRM strategy.")
    project_services.project_set_links(
        actor=user,
        project_id=obj.pk,
        links=[project_services.LinkSpec(pk, keep=True) for pk in linked if pk != gone],
        version=version,
    )


_GOAL = "goal"
_BUSINESS = "business_strategy"
_CRM = "crm_strategy"
_PROJECT = "project"

FETCH = {
    _GOAL: goal_for,
    _BUSINESS: business_strategy_for,
    _CRM: crm_strategy_for,
    _PROJECT: project_for,
}

CHANGES: dict[tuple[str, str], Change] = {
    (_GOAL, "retire"): Change(
        _GOAL,
        "Retire",
        "Retire the goal “{}”?",
        "Goal “{}” retired.",
        _status(goal_services.goal_update, "goal_id", "retired"),
    ),
    (_GOAL, "reactivate"): Change(
        _GOAL,
        "Reactivate",
        "Reactivate the goal “{}”?",
        "Goal “{}” is active again.",
        _call(goal_services.goal_reactivate, "goal_id"),
        mends=True,
    ),
    (_GOAL, "delete"): Change(
        _GOAL,
        "Delete",
        "Delete the goal “{}”?",
        "Goal “{}” deleted.",
        _call(goal_services.goal_delete, "goal_id"),
        gone_to="goals:list",
    ),
    (_BUSINESS, "retire"): Change(
        _BUSINESS,
        "Retire",
        "Retire the business strategy “{}”?",
        "Business strategy “{}” retired.",
        _status(strategy_services.business_strategy_update, "business_strategy_id", "retired"),
    ),
    (_BUSINESS, "reactivate"): Change(
        _BUSINESS,
        "Reactivate",
        "Reactivate the business strategy “{}”?",
        "Business strategy “{}” is active again.",
        _call(strategy_services.business_strategy_reactivate, "business_strategy_id"),
        mends=True,
    ),
    (_BUSINESS, "delete"): Change(
        _BUSINESS,
        "Delete",
        "Delete the business strategy “{}”?",
        "Business strategy “{}” deleted.",
        _call(strategy_services.business_strategy_delete, "business_strategy_id"),
        gone_to="strategies:business_list",
    ),
    (_CRM, "retire"): Change(
        _CRM,
        "Retire",
        "Retire the CRM strategy “{}”?",
        "CRM strategy “{}” retired.",
        _status(strategy_services.crm_strategy_update, "crm_strategy_id", "retired"),
    ),
    (_CRM, "reactivate"): Change(
        _CRM,
        "Reactivate",
        "Reactivate the CRM strategy “{}”?",
        "CRM strategy “{}” is active again.",
        _call(strategy_services.crm_strategy_reactivate, "crm_strategy_id"),
        mends=True,
    ),
    (_CRM, "delete"): Change(
        _CRM,
        "Delete",
        "Delete the CRM strategy “{}”?",
        "CRM strategy “{}” deleted.",
        _call(strategy_services.crm_strategy_delete, "crm_strategy_id"),
        gone_to="strategies:list",
    ),
    (_CRM, "unserve"): Change(
        _CRM,
        "Stop serving",
        "Stop “{}” serving this business strategy?",
        "“{}” no longer serves that business strategy.",
        _unserve,
    ),
    (_PROJECT, "cancel"): Change(
        _PROJECT,
        "Cancel project",
        "Cancel the project “{}”?",
        "Project “{}” cancelled.",
        _status(project_services.project_update, "project_id", ProjectStatus.CANCELLED),
    ),
    (_PROJECT, "unlink"): Change(
        _PROJECT,
        "Remove link",
        "Remove this link of “{}”?",
        "Link of “{}” removed.",
        _unlink,
    ),
    (_PROJECT, "delete"): Change(
        _PROJECT,
        "Delete",
        "Delete the project “{}”?",
        "Project “{}” deleted.",
        _call(project_services.project_delete, "project_id"),
        gone_to="projects:list",
    ),
}


def _flag_rows(changes: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for change in changes:
        try:
            title = rule_for(change.rule).title
        except KeyError:
            title = change.rule
        rows.append({"title": title, **vars(change)})
    return rows


@require_http_methods(["GET", "HEAD", "POST"])
def change_view(request: HttpRequest, kind: str, pk: int, change: str) -> HttpResponse:
    """GET: the change's impact and a Confirm button; POST: make the change."""
    spec = CHANGES.get((kind, change))
    if spec is None:
        raise Http404("No such change.")
    # 404 for what the user may not see, 403 for who may not make the change.
    obj = FETCH[kind](request.user, pk, change=True)
    if request.method == "POST":
        try:
            spec.apply(request.user, obj, posted_version(request), request)
        except EditConflict as conflict:
            messages.error(request, f"{conflict} Nothing was changed: look at it again first.")
        except ValidationError as error:
            messages.error(request, refusal_message(error))
        else:
            messages.success(request, spec.done.format(obj))
            if spec.gone_to:
                return redirect(reverse(spec.gone_to))
        return redirect(obj)
    refusal = ""
    impact = None
    try:
        impact = preview(kind, pk, lambda: spec.apply(request.user, obj, None, request))
    except (ValidationError, PermissionDenied) as error:
        refusal = refusal_message(error)
    context = {
        "object": obj,
        "kind": kind,
        "change": change,
        "spec": spec,
        "heading": spec.question.format(obj),
        "refusal": refusal,
        "impact": impact,
        "currency": money.currency(),
        "query": request.GET.urlencode(),
    }
    if impact is not None:
        context.update(
            losing=[
                {"id": pk, **impact.projects[pk]}
                for pk in impact.projects_losing_chain
                if pk in impact.projects
            ],
            losing_features=[
                {"id": pk, **impact.features[pk]}
                for pk in impact.features_losing_chain
                if pk in impact.features
            ],
            mending=[
                {"id": pk, **impact.projects[pk]}
                for pk in impact.projects_tracing_again
                if pk in impact.projects
            ],
            mending_features=[
                {"id": pk, **impact.features[pk]}
                for pk in impact.features_tracing_again
                if pk in impact.features
            ],
            opening=_flag_rows(impact.flags_opening),
            closing=_flag_rows(impact.flags_closing),
        )
    return render(request, "alignment/change_confirm.html", context)
