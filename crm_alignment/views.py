"""The home page (what needs my attention) and global search."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from alignment.models import FlagState
from alignment.selectors import flags_visible_to
from core import people as pickers
from core.middleware import signed_in
from core.permissions import can_read, is_admin, user_roles, visible_to
from core.roles import Role
from goals.models import BusinessGoal
from projects.models import CRMProject, Feature, ProjectStatus
from projects.selectors import projects_with_trace
from strategies.models import BusinessStrategy, CRMStrategy

SEARCH_LIMIT = 20


def _attention_flags(user: Any) -> QuerySet[Any]:
    """Open flags this user should act on: on projects they manage or sponsor, and for
    executives and admins (who may act on every flag) the whole portfolio."""
    flags = flags_visible_to(user).filter(state=FlagState.OPEN)
    if not (is_admin(user) or Role.EXECUTIVE.value in user_roles(user)):
        flags = flags.filter(Q(project__manager=user) | Q(project__sponsor=user))
    return flags.order_by("severity_rank", "-last_seen", "-id")


@signed_in
def home(request: HttpRequest) -> HttpResponse:
    """What needs my attention: my open flags, my projects, approvals waiting for me."""
    user: Any = request.user  # signed in (@signed_in)
    roles = user_roles(user)
    executive = is_admin(user) or Role.EXECUTIVE.value in roles
    context: dict[str, Any] = {"has_role": can_read(user)}
    if can_read(user):
        flags = _attention_flags(user)
        awaiting = projects_with_trace().filter(status=ProjectStatus.PROPOSED)
        if not executive:
            awaiting = awaiting.filter(sponsor=user)
        context.update(
            flags=list(flags[:8]),
            flags_total=flags.count(),
            my_projects=list(projects_with_trace().filter(manager=user).order_by("title")[:10]),
            sponsored=list(
                projects_with_trace()
                .filter(sponsor=user)
                .exclude(status__in=[ProjectStatus.DONE, ProjectStatus.CANCELLED])
                .order_by("title")[:10]
            ),
            awaiting=list(awaiting.order_by("title")[:10]),
            is_executive=executive,
            counts={
                "goals": BusinessGoal.objects.count(),
                "crm_strategies": CRMStrategy.objects.count(),
                "projects": CRMProject.objects.count(),
            },
        )
        # An empty installation offers to start from a spreadsheet (onboarding).
        context["portfolio_empty"] = not any(context["counts"].values())
    return render(request, "home.html", context)


def search(request: HttpRequest) -> HttpResponse:
    """Goals, strategies, projects and features whose title or description contains `q`;
    one query per type, at most SEARCH_LIMIT each."""
    query = request.GET.get("q", "").strip()[:100]
    results: dict[str, list[Any]] = {}
    if len(query) >= 2:
        text = Q(title__icontains=query) | Q(description__icontains=query)
        user = request.user
        results = {
            "Goals": list(visible_to(BusinessGoal.objects.filter(text), user)[:SEARCH_LIMIT]),
            "Business strategies": list(
                visible_to(
                    BusinessStrategy.objects.filter(text | Q(scope__icontains=query)), user
                ).select_related("goal")[:SEARCH_LIMIT]
            ),
            "CRM strategies": list(
                visible_to(
                    CRMStrategy.objects.filter(text | Q(customer_need__icontains=query)), user
                )[:SEARCH_LIMIT]
            ),
            "Projects": list(visible_to(CRMProject.objects.filter(text), user)[:SEARCH_LIMIT]),
            "Features": list(
                visible_to(Feature.objects.filter(text), user).select_related("project")[
                    :SEARCH_LIMIT
                ]
            ),
        }
    return render(
        request,
        "search.html",
        {
            "search_query": query,
            "results": results,
            "total": sum(len(v) for v in results.values()),
            "too_short": 0 < len(query) < 2,
            "limit": SEARCH_LIMIT,
        },
    )


@require_GET
def people(request: HttpRequest) -> HttpResponse:
    """The people picker's suggestions: up to PICKER_LIMIT people of the set `for` names (those
    its field accepts) whose username or name contains every word of `q`, by name. JSON:
    {"results": [{"id", "username", "name", "label"}], "more": bool}. Anyone with a role may
    ask (everyone with a role sees people's names on every list)."""
    found = pickers.registered(request.GET.get("for", ""))
    if found is None:
        message = "Name the picker of a person field, e.g. for=roles:any."
        return JsonResponse({"for": [message]}, status=400)
    query = request.GET.get("q", "").strip()[:100]
    matches = pickers.search(found, query, limit=pickers.PICKER_LIMIT + 1)
    shown = matches[: pickers.PICKER_LIMIT]
    return JsonResponse(
        {
            "results": [
                {
                    "id": user.pk,
                    "username": user.get_username(),
                    "name": user.get_full_name(),
                    "label": pickers.label(user),
                }
                for user in shown
            ],
            "more": len(matches) > len(shown),
        }
    )
