"""Project pages: lists, the project page (chain, features, metrics, roadmap, check-ins), the link
pickers. Writes go through projects.services; htmx swaps the changed section and tells the flags
panel to refresh. The flags and the readiness checklist on the project page, and approval, are
the alignment engine's (its template tags, views and services): `projects` never imports it."""

from __future__ import annotations

from typing import Any, Literal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from core.forms import add_conflict, add_service_errors
from core.people import PICKER_LIMIT
from core.permissions import (
    can_approve_project,
    can_comment_on_project,
    can_create_project,
    can_edit_project,
    can_manage_user_groups,
    get_visible_or_404,
)
from core.services import EditConflict
from core.views import (
    act,
    create_view,
    delete_view,
    edit_view,
    form_page,
    list_page,
    posted_version,
    save_form,
)
from strategies.models import CRMStrategy, CRMStrategyServes, StrategyStatus

from . import decisions, register, services
from . import roadmap as timeline
from .access import (
    check_in_for,
    feature_for,
    metric_for,
    phase_for,
    project_for,
    user_group_for,
)
from .filters import ProjectFilterSet, UserGroupFilterSet
from .forms import (
    CheckInEditForm,
    CheckInForm,
    FeatureForm,
    LinkPickerForm,
    MetricForm,
    PhaseForm,
    ProjectForm,
    RoadmapFilterForm,
    UserGroupForm,
)
from .models import (
    APPROVABLE_PROJECT_STATUSES,
    CRMProject,
    Feature,
    FeatureLink,
    RoadmapPhase,
    SuccessMetric,
    UserGroup,
    sent_back_decision,
)
from .selectors import (
    departments_matching,
    features_with_trace,
    projects_to_list,
    projects_with_trace,
    user_groups_matching,
    user_groups_with_counts,
)
from .trace import (
    anchored_crm_strategy_exists,
    feature_link_off_scope,
    project_serves_exists,
    project_trace,
)

FLAGS_CHANGED = "flagsChanged"  # htmx event: the flags panel re-fetches at once


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _changed(response: HttpResponse) -> HttpResponse:
    """Mark an htmx response as one that may have changed the project's flags."""
    trigger_client_event(response, FLAGS_CHANGED)
    return response


# ---------- lists ----------


def _project_list(request: HttpRequest, projects: QuerySet[CRMProject], *, mine: bool) -> Any:
    filterset = ProjectFilterSet(request.GET, projects, request=request)
    # Traceability and counts are computed for the page's projects only (core.lists).
    context = list_page(
        request,
        filterset,
        bar=("status", "manager", "department", "is_traceable"),
        rows=projects_with_trace(),
    )
    return render(request, "projects/project_list.html", {**context, "mine": mine})


def project_list(request: HttpRequest) -> HttpResponse:
    return _project_list(request, projects_to_list(), mine=False)


def my_projects(request: HttpRequest) -> HttpResponse:
    """The projects I manage or sponsor."""
    user = request.user
    return _project_list(
        request, projects_to_list().filter(Q(manager=user) | Q(sponsor=user)), mine=True
    )


@require_GET
def department_suggestions(request: HttpRequest) -> HttpResponse:
    """The department picker's suggestions: up to PICKER_LIMIT departments whose name contains
    every word of `q`, by name. JSON: {"results": [{"id", "name", "is_it", "label"}], "more":
    bool}. Anyone with a role may ask (every project list shows departments)."""
    query = request.GET.get("q", "").strip()[:100]
    matches = departments_matching(query, limit=PICKER_LIMIT + 1)
    shown = matches[:PICKER_LIMIT]
    return JsonResponse(
        {
            "results": [
                {"id": d.pk, "name": d.name, "is_it": d.is_it, "label": d.name} for d in shown
            ],
            "more": len(matches) > len(shown),
        }
    )


# ---------- the project page ----------


def _feature_links() -> QuerySet[FeatureLink]:
    """Feature links with their CRM strategy and `off_scope` (shown next to the link; the
    engine flags the feature as feature.off_scope)."""
    return (
        FeatureLink.objects.select_related("crm_strategy")
        .annotate(off_scope=feature_link_off_scope())
        .order_by("crm_strategy__title")
    )


def _features(project: CRMProject) -> list[Feature]:
    return list(
        features_with_trace()
        .filter(project=project)
        .prefetch_related(Prefetch("links", queryset=_feature_links()))
        .order_by("position", "id")
    )


def _features_context(request: HttpRequest, project: CRMProject, **extra: Any) -> dict[str, Any]:
    return {
        "project": project,
        "features": _features(project),
        "can_edit": can_edit_project(request.user, project),
        "feature_form": extra.pop("feature_form", None) or FeatureForm(prefix="new-feature"),
        **extra,
    }


def _section_context(
    request: HttpRequest, project: CRMProject, section: str, form: Any = None
) -> dict[str, Any]:
    form_class, _, _ = SECTIONS[section]
    context: dict[str, Any] = {
        "project": project,
        "can_edit": can_edit_project(request.user, project),
        "section": section,
        f"{section}_form": form or form_class(prefix=section),
    }
    if section == "metrics":
        context["metrics"] = list(project.metrics.all())
    elif section == "phases":
        context["phases"] = list(project.phases.all())
    else:
        context["check_ins"] = list(project.check_ins.select_related("author")[:20])
    return context


def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_visible_or_404(projects_with_trace(), request.user, pk=pk)
    context: dict[str, Any] = {}
    for section in SECTIONS:
        context.update(_section_context(request, project, section))
    context.update(_features_context(request, project))
    context["chains"] = project_trace(project)
    context["today"] = timezone.localdate()
    context["timeline"] = timeline.timeline_for([project], context["today"])
    context["user_groups"] = list(
        UserGroup.objects.filter(project_links__project=project).order_by("name")
    )
    context.update(register.project_register_context(request, project))
    context["can_approve"] = (
        can_approve_project(request.user, project) and project.status in APPROVABLE_PROJECT_STATUSES
    )
    context.update(_approval_context(request, project))
    return render(request, "projects/project_detail.html", context)


def _approval_context(request: HttpRequest, project: CRMProject) -> dict[str, Any]:
    """The approval card: the thread (one query), the send-back the manager still has to
    answer, and what this user may do about it."""
    entries = decisions.thread(project.pk)
    sent_back = sent_back_decision(entries, project.status)
    return {
        "approval_thread": entries,
        "sent_back": sent_back,
        "can_resubmit": sent_back is not None and can_edit_project(request.user, project),
        "can_comment": can_comment_on_project(request.user, project),
    }


@require_POST
def project_resubmit(request: HttpRequest, pk: int) -> HttpResponse:
    """The manager answers a send-back: the project waits for its sponsor again."""
    project = get_visible_or_404(CRMProject.objects.all(), request.user, pk=pk)
    act(
        request,
        lambda: decisions.project_resubmit(
            actor=request.user,
            project_id=pk,
            comment=request.POST.get("comment", ""),
            version=posted_version(request),
        ),
        f"Project “{project}” resubmitted: it waits for its sponsor's decision again.",
    )
    return redirect(project.get_absolute_url() + "#approval")


@require_POST
def project_comment(request: HttpRequest, pk: int) -> HttpResponse:
    """A comment on the project's approval thread."""
    project = get_visible_or_404(CRMProject.objects.all(), request.user, pk=pk)
    act(
        request,
        lambda: decisions.project_comment(
            actor=request.user, project_id=pk, comment=request.POST.get("comment", "")
        ),
        "Comment added.",
    )
    return redirect(project.get_absolute_url() + "#approval")


project_create = create_view(
    permitted=can_create_project,
    refusal="Only project managers create projects.",
    form_class=ProjectForm,
    create=services.project_create,
    heading="New project",
    crumbs=lambda: [(reverse("projects:list"), "Projects")],
    button="Create project",
    cancel=lambda: reverse("projects:list"),
    saved=lambda project: (
        f"Project “{project}” created. Now link it to the CRM strategies it serves."
    ),
    template="projects/project_form.html",
)


project_edit = edit_view(
    fetch=project_for,
    form_class=ProjectForm,
    update=services.project_update,
    id_kwarg="project_id",
    heading=lambda project: f"Edit “{project.title}”",
    crumbs=lambda project: [
        (reverse("projects:list"), "Projects"),
        (project.get_absolute_url(), project.title),
    ],
    button="Save project",
    saved=lambda project: f"Project “{project}” saved.",
    template="projects/project_form.html",
)


# ---------- link pickers ----------


def _link_picker(
    request: HttpRequest, owner: CRMProject | Feature, links: QuerySet[Any]
) -> LinkPickerForm:
    current = {link.crm_strategy_id: link for link in links}
    strategies = (
        CRMStrategy.objects.filter(~Q(status=StrategyStatus.RETIRED) | Q(pk__in=list(current)))
        .annotate(is_anchored=anchored_crm_strategy_exists())
        # Each row names the business strategies and goals it serves: one query for them all.
        .prefetch_related(
            Prefetch(
                "serves",
                queryset=CRMStrategyServes.objects.select_related(
                    "business_strategy__goal"
                ).order_by("business_strategy__goal__title", "business_strategy__title"),
            )
        )
        .order_by("title")
    )
    if isinstance(owner, Feature):
        # A feature picking outside its project's strategies would be off scope.
        strategies = strategies.annotate(in_project_scope=project_serves_exists(owner.project_id))
    form = LinkPickerForm(
        request.POST if request.method == "POST" else None,
        strategies=strategies,
        current=current,
        version=owner.version,
        prefix=f"links-{owner.pk}" if isinstance(owner, Feature) else "links",
    )
    _prefill_suggestion(request, form)
    return form


def _prefill_suggestion(request: HttpRequest, form: LinkPickerForm) -> None:
    """Accepting a link suggestion opens the picker with `?suggest=<CRM strategy id>` and a
    draft `rationale`: that strategy is ticked and its rationale filled in, for the person to
    edit and save. Anything else in the query string (an unknown or linked strategy, a
    malformed id) leaves the picker as it is."""
    suggested = request.GET.get("suggest", "")
    if request.method != "GET" or not suggested.isdigit():
        return
    pk = int(suggested)
    if pk in form.current or f"use_{pk}" not in form.fields:
        return
    form.fields[f"use_{pk}"].initial = True
    form.fields[f"rationale_{pk}"].initial = request.GET.get("rationale", "")[:500]


def _save_links(form: LinkPickerForm, save: Any) -> Any:
    """Save the picked links with the version the picker was opened at; on a conflict, say
    who changed what and list the links stored now (the person's ticks are kept)."""
    try:
        return save(form.link_specs(), form.cleaned_data.get("version"))
    except EditConflict as conflict:
        add_conflict(form, conflict)
        owner: Any = conflict.current
        stored = owner.links.order_by("crm_strategy__title").values_list(
            "crm_strategy__title", flat=True
        )
        form.add_error(None, f"Linked now: {', '.join(stored) if stored else 'nothing'}.")
    except ValidationError as error:
        add_service_errors(form, error)
    return None


def project_links(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose the CRM strategies the project serves, each with its rationale and weight."""
    project = project_for(request.user, pk, change=True)
    form = _link_picker(request, project, project.links.all())
    if request.method == "POST" and form.is_valid():
        saved = _save_links(
            form,
            lambda links, version: services.project_set_links(
                actor=request.user, project_id=pk, links=links, version=version
            ),
        )
        if saved is not None:
            messages.success(request, f"Links of “{saved}” saved.")
            return redirect(saved)
    return render(
        request,
        "projects/links_page.html",
        {"form": form, "project": project, "feature": None},
    )


# ---------- features ----------


def _feature_row(request: HttpRequest, feature: Feature, status: int = 200) -> HttpResponse:
    fresh = next(f for f in _features(feature.project) if f.pk == feature.pk)
    return render(
        request,
        "projects/_feature_row.html",
        {"feature": fresh, "project": feature.project, "can_edit": True},
        status=status,
    )


def _features_section(request: HttpRequest, project: CRMProject, **extra: Any) -> HttpResponse:
    return render(request, "projects/_features.html", _features_context(request, project, **extra))


@require_POST
def feature_create(request: HttpRequest, pk: int) -> HttpResponse:
    project = project_for(request.user, pk, change=True)
    form = FeatureForm(request.POST, prefix="new-feature", instance=Feature(project=project))
    if form.is_valid():
        feature = save_form(
            form,
            lambda changes, _: services.feature_create(
                actor=request.user, project_id=pk, **changes
            ),
        )
        if feature is not None:
            if _htmx(request):
                return _changed(_features_section(request, project))
            messages.success(request, f"Feature “{feature}” added.")
            return redirect(f"{project.get_absolute_url()}#features")
    if _htmx(request):
        return _features_section(request, project, feature_form=form, show_add_form=True)
    return form_page(
        request,
        form,
        "Add a feature",
        crumbs=[(project.get_absolute_url(), project.title)],
        button="Add feature",
        cancel_url=project.get_absolute_url(),
    )


@require_GET
def feature_row(request: HttpRequest, pk: int) -> HttpResponse:
    """One feature's row (htmx: what "Cancel" in an inline form swaps back in)."""
    feature = get_visible_or_404(Feature.objects.select_related("project"), request.user, pk=pk)
    fresh = next(f for f in _features(feature.project) if f.pk == feature.pk)
    return render(
        request,
        "projects/_feature_row.html",
        {
            "feature": fresh,
            "project": feature.project,
            "can_edit": can_edit_project(request.user, feature.project),
        },
    )


def feature_detail(request: HttpRequest, pk: int) -> HttpResponse:
    feature = get_visible_or_404(
        features_with_trace().select_related("project"), request.user, pk=pk
    )
    return render(
        request,
        "projects/feature_detail.html",
        {
            "feature": feature,
            "project": feature.project,
            "links": list(_feature_links().filter(feature=feature)),
            "can_edit": can_edit_project(request.user, feature.project),
        },
    )


def feature_edit(request: HttpRequest, pk: int) -> HttpResponse:
    feature = feature_for(request.user, pk, change=True)
    title = feature.title  # as stored: the form writes the person's input into `feature`
    form = FeatureForm(request.POST or None, instance=feature, prefix=f"feature-{feature.pk}")
    if request.method == "POST" and form.is_valid():
        saved = save_form(
            form,
            lambda changes, version: services.feature_update(
                actor=request.user, feature_id=pk, changes=changes, version=version
            ),
        )
        if saved is not None:
            if _htmx(request):
                return _changed(_feature_row(request, saved))
            messages.success(request, f"Feature “{saved}” saved.")
            return redirect(f"{saved.project.get_absolute_url()}#features")
    if _htmx(request):
        return render(
            request,
            "projects/_feature_form_row.html",
            {"feature": feature, "project": feature.project, "form": form},
        )
    return form_page(
        request,
        form,
        f"Edit feature “{title}”",
        crumbs=[(feature.project.get_absolute_url(), feature.project.title)],
        button="Save feature",
        cancel_url=feature.project.get_absolute_url(),
    )


def feature_links(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose the CRM strategies a feature serves (inline on the project page with htmx)."""
    feature = feature_for(request.user, pk, change=True)
    form = _link_picker(request, feature, feature.links.all())
    if request.method == "POST" and form.is_valid():
        saved = _save_links(
            form,
            lambda links, version: services.feature_set_links(
                actor=request.user, feature_id=pk, links=links, version=version
            ),
        )
        if saved is not None:
            if _htmx(request):
                return _changed(_feature_row(request, saved))
            messages.success(request, f"Links of feature “{feature}” saved.")
            return redirect(f"{feature.project.get_absolute_url()}#features")
    context = {"form": form, "project": feature.project, "feature": feature}
    if _htmx(request):
        return render(request, "projects/_feature_links_row.html", context)
    return render(request, "projects/links_page.html", context)


@require_POST
def feature_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a feature one place up or down (the order is the project's priority order)."""
    feature = feature_for(request.user, pk, change=True)
    project = feature.project
    direction: Literal["up", "down"] = "up" if request.POST.get("direction") == "up" else "down"
    moved = act(
        request,
        lambda: services.feature_move(
            actor=request.user, feature_id=pk, direction=direction, version=posted_version(request)
        ),
        None,  # the list itself shows the new order
    )
    if _htmx(request):
        if not moved:
            return _changed(_features_section(request, project))
        return _features_section(request, project)
    return redirect(f"{project.get_absolute_url()}#features")


@require_POST
def feature_delete(request: HttpRequest, pk: int) -> HttpResponse:
    feature = feature_for(request.user, pk, change=True)
    project = feature.project
    act(
        request,
        lambda: services.feature_delete(
            actor=request.user, feature_id=pk, version=posted_version(request)
        ),
        None if _htmx(request) else f"Feature “{feature.title}” deleted.",
    )
    if _htmx(request):
        return _changed(_features_section(request, project))
    return redirect(f"{project.get_absolute_url()}#features")


# ---------- metrics, roadmap, check-ins ----------


# section name → (form, create service, partial template)
SECTIONS: dict[str, tuple[Any, Any, str]] = {
    "metrics": (MetricForm, services.metric_create, "projects/_metrics.html"),
    "phases": (PhaseForm, services.phase_create, "projects/_phases.html"),
    "check_ins": (CheckInForm, services.project_check_in, "projects/_check_ins.html"),
}
SECTION_NOUNS = {"metrics": "success metric", "phases": "roadmap entry", "check_ins": "check-in"}
SECTION_INSTANCES: dict[str, Any] = {"metrics": SuccessMetric, "phases": RoadmapPhase}


@require_POST
def section_add(request: HttpRequest, pk: int, section: str) -> HttpResponse:
    """Add a success metric, roadmap phase or check-in from the project page."""
    project = project_for(request.user, pk, change=True)
    form_class, create, template = SECTIONS[section]
    instance_class = SECTION_INSTANCES.get(section)
    kwargs = {"instance": instance_class(project=project)} if instance_class else {}
    form = form_class(request.POST, prefix=section, **kwargs)
    if section == "check_ins":
        form.instance.project = project
    if form.is_valid():
        added = save_form(
            form, lambda changes, _: create(actor=request.user, project_id=pk, **changes)
        )
        if added is not None:
            if _htmx(request):
                return _changed(
                    render(request, template, _section_context(request, project, section))
                )
            messages.success(request, f"The {SECTION_NOUNS[section]} was added.")
            return redirect(f"{project.get_absolute_url()}#{section}")
    if _htmx(request):
        return render(request, template, _section_context(request, project, section, form))
    return form_page(
        request,
        form,
        f"Add a {SECTION_NOUNS[section]}",
        crumbs=[(project.get_absolute_url(), project.title)],
        button="Add",
        cancel_url=project.get_absolute_url(),
    )


metric_edit = edit_view(
    fetch=metric_for,
    form_class=MetricForm,
    update=services.metric_update,
    id_kwarg="metric_id",
    heading=lambda metric: f"Edit metric “{metric.name}”",
    crumbs=lambda metric: [(metric.project.get_absolute_url(), metric.project.title)],
    button="Save metric",
    saved=lambda metric: f"Metric “{metric}” saved.",
    page_of=lambda metric: metric.project,
    anchor="#metrics",
)


metric_delete = delete_view(
    fetch=metric_for,
    delete=services.metric_delete,
    id_kwarg="metric_id",
    deleted=lambda metric: f"Metric “{metric.name}” deleted.",
    page_of=lambda metric: metric.project,
    anchor="#metrics",
)


phase_edit = edit_view(
    fetch=phase_for,
    form_class=PhaseForm,
    update=services.phase_update,
    id_kwarg="phase_id",
    heading=lambda phase: f"Edit roadmap entry “{phase.name}”",
    crumbs=lambda phase: [(phase.project.get_absolute_url(), phase.project.title)],
    button="Save",
    saved=lambda phase: f"Roadmap entry “{phase}” saved.",
    page_of=lambda phase: phase.project,
    anchor="#phases",
)


phase_delete = delete_view(
    fetch=phase_for,
    delete=services.phase_delete,
    id_kwarg="phase_id",
    deleted=lambda phase: f"Roadmap entry “{phase.name}” deleted.",
    page_of=lambda phase: phase.project,
    anchor="#phases",
)


check_in_edit = edit_view(
    fetch=check_in_for,
    form_class=CheckInEditForm,
    update=services.project_check_in_update,
    id_kwarg="check_in_id",
    heading=lambda check_in: f"Correct the check-in of {check_in.checked_in_on:%d %b %Y}",
    crumbs=lambda check_in: [(check_in.project.get_absolute_url(), check_in.project.title)],
    button="Save check-in",
    saved=lambda check_in: "Check-in corrected.",
    page_of=lambda check_in: check_in.project,
    anchor="#check_ins",
)


check_in_delete = delete_view(
    fetch=check_in_for,
    delete=services.project_check_in_delete,
    id_kwarg="check_in_id",
    deleted=lambda check_in: "Check-in deleted.",
    page_of=lambda check_in: check_in.project,
    anchor="#check_ins",
)


# ---------- user groups ----------


@require_GET
def user_group_suggestions(request: HttpRequest) -> HttpResponse:
    """The user group picker's suggestions: up to PICKER_LIMIT groups whose name contains every
    word of `q`, by name. JSON: {"results": [{"id", "name", "label"}], "more": bool}."""
    query = request.GET.get("q", "").strip()[:100]
    matches = user_groups_matching(query, limit=PICKER_LIMIT + 1)
    shown = matches[:PICKER_LIMIT]
    return JsonResponse(
        {
            "results": [{"id": g.pk, "name": g.name, "label": g.name} for g in shown],
            "more": len(matches) > len(shown),
        }
    )


def user_group_list(request: HttpRequest) -> HttpResponse:
    """The catalogue of user groups, a page at a time, with the live projects naming each."""
    filterset = UserGroupFilterSet(request.GET, user_groups_with_counts(), request=request)
    context = list_page(request, filterset, bar=("name",))
    return render(
        request,
        "projects/user_group_list.html",
        {**context, "can_manage": can_manage_user_groups(request.user)},
    )


def _user_groups_crumbs(*_: Any) -> list[tuple[str, str]]:
    return [(reverse("projects:user_groups"), "User groups")]


user_group_create = create_view(
    permitted=can_manage_user_groups,
    refusal="Only project managers and executives keep the user groups.",
    form_class=UserGroupForm,
    create=services.user_group_create,
    heading="New user group",
    crumbs=_user_groups_crumbs,
    button="Add user group",
    cancel=lambda: reverse("projects:user_groups"),
    saved=lambda group: f"User group “{group}” added.",
)

user_group_edit = edit_view(
    fetch=user_group_for,
    form_class=UserGroupForm,
    update=services.user_group_update,
    id_kwarg="user_group_id",
    heading=lambda group: f"Edit user group “{group.name}”",
    crumbs=_user_groups_crumbs,
    button="Save",
    saved=lambda group: f"User group “{group}” saved.",
    page_of=lambda _group: _UserGroupsPage(),
)

user_group_delete = delete_view(
    fetch=user_group_for,
    delete=services.user_group_delete,
    id_kwarg="user_group_id",
    deleted=lambda group: f"User group “{group.name}” deleted.",
    page_of=lambda _group: _UserGroupsPage(),
)


class _UserGroupsPage:
    """Where a user group's edit and delete go back to: the catalogue."""

    def get_absolute_url(self) -> str:
        return reverse("projects:user_groups")


# ---------- the roadmap timeline ----------


def roadmap(request: HttpRequest) -> HttpResponse:
    """Every live project's phases and milestones on one time axis, grouped goal → business
    strategy → CRM strategy, a page of projects at a time; filtered by goal, status, user group
    or department (a group's filter shows its change collisions)."""
    form = RoadmapFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    queryset = timeline.timeline_projects(
        goal=filters.get("goal"),
        status=filters.get("status") or None,
        user_group=filters.get("user_group"),
        department=filters.get("department"),
    )
    page = timeline.page_of(queryset, request.GET.get("page"))
    today = timezone.localdate()
    return render(
        request,
        "projects/roadmap.html",
        {
            "form": form,
            "page_obj": page,
            "timeline": timeline.timeline_for(list(page.object_list), today) if page else None,
            "today": today,
            "user_group": filters.get("user_group"),
        },
    )
