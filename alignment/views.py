"""The sponsor's pages: alignment dashboard, strategy map, traceability matrix and flag inbox;
the project page's flags and readiness partials, and a project's approval.

Thin views: parse input, call a selector or a service, render. Everyone with a role reads
these pages (no role: 404); acting on a flag needs `can_act_on_flag` (else 403).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.filters import ORDERING_PARAM
from core.forms import refusal_message
from core.permissions import (
    can_act_on_some_flag,
    can_start_scan,
    get_visible_or_404,
    visible_to,
    why_cannot_act_on_flag,
)
from core.services import EditConflict
from core.views import list_page, paginate, posted_version, uncounted_page
from goals.models import BusinessGoal, GoalStatus
from projects.access import project_for
from projects.filters import FeatureFilterSet, ProjectFilterSet
from projects.models import CRMProject
from strategies.models import CRMStrategy

from . import dashboard, flow, goal_health, strategy_map
from .access import flag_for
from .charts import bars, percent, trend_chart
from .explain import with_explanations
from .filters import FlagFilterSet
from .forms import (
    SERVICE_FIELD_TO_FORM,
    BulkFlagForm,
    InboxGroupForm,
    MapFilterForm,
    MatrixFilterForm,
    WaiveForm,
)
from .models import Flag, Scan, ScanState, Snapshot
from .readiness import readiness_panel
from .rules import RULES
from .selectors import (
    NO_PROJECT,
    flag_groups,
    flags_of_group,
    flags_visible_to,
    full_scan_in_progress,
    latest_snapshot,
    project_flags_needing_attention,
    snapshot_figures,
    snapshots_trend,
    summary_from,
)
from .services import (
    BULK_MAX,
    BulkAction,
    BulkOutcome,
    BulkStatus,
    ScanUnavailable,
    flag_acknowledge,
    flag_waive,
    flags_decide_in_bulk,
    project_approve,
    project_reject,
    project_send_back,
    scan_request,
)

FLAGS_PER_PAGE = 25
# The not-traced lists of the strategy map, and the filters their bars show: not the people
# or the department, selects that grow with the portfolio (a thousand departments at 10k
# projects made the page four times slower).
MAP_LIST_PAGE = 50
NOT_TRACED_PROJECT_FILTERS = ("status", "is_linked", "crm_strategy", "goal")
NOT_TRACED_FEATURE_FILTERS = ("status", "priority", "is_linked")
MATRIX_PROJECTS_PER_PAGE = 25
MATRIX_STRATEGIES_PER_PAGE = 30
TREND_SERIES = [
    ("projects_pct", "Projects traced", "series--projects"),
    ("budget_pct", "Budget traced", "series--budget"),
    ("features_pct", "Features traced", "series--features"),
]


# --- Dashboard ------------------------------------------------------------------------------


def _rule_rows(by_rule: dict[str, int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for code, count in by_rule.items():
        rule = RULES.get(code)
        rows.append(
            {
                "code": code,
                "title": rule.title if rule else code,
                "severity": str(rule.default_severity) if rule else "",
                "count": count,
            }
        )
    rows.sort(key=lambda row: (-row["count"], row["code"]))
    return bars(rows, key="count")


def _trend_rows() -> list[dict[str, Any]]:
    """One row per day with a full scan (its last), oldest first."""
    rows = []
    for snap in snapshots_trend():
        by_severity = snap.open_by_severity or {}
        rows.append(
            {
                "day": snap.day,  # type: ignore[attr-defined]
                "taken_at": snap.taken_at,
                "projects_pct": percent(snap.projects_traced, snap.projects_total),
                "budget_pct": percent(snap.budget_traced, snap.budget_total),
                "budget_traced": snap.budget_traced,
                "budget_total": snap.budget_total,
                "features_pct": percent(snap.features_traced, snap.features_total),
                "open_flags": sum(int(n) for n in by_severity.values()),
                "critical": int(by_severity.get("critical", 0)),
            }
        )
    return rows


# Active goals whose health the dashboard lists (the goals page has them all).
DASHBOARD_GOALS = 12


def _goal_health_rows(user: Any, snapshot: Snapshot | None) -> dict[str, Any]:
    """The first DASHBOARD_GOALS active goals by priority, each with its health as the last
    full scan recorded it (alignment.goal_health): one query over the goals."""
    goals = list(
        visible_to(BusinessGoal.objects.filter(status=GoalStatus.ACTIVE), user)
        .order_by("priority", "title", "id")
        .only("id", "title", "priority")[: DASHBOARD_GOALS + 1]
    )
    shown = goals[:DASHBOARD_GOALS]
    found = goal_health.stored(figures_of(snapshot)).get("goal", {})
    return {
        "rows": [(goal, found.get(goal.pk)) for goal in shown],
        "more": len(goals) > DASHBOARD_GOALS,
    }


@require_GET
def dashboard_view(request: HttpRequest) -> HttpResponse:
    """Headline figures, investment by goal and business strategy, spend and the projects with
    untraced features as the latest full scan recorded them (the page says how old they are);
    open flags counted live; the trend. A fixed handful of queries of a few rows each: nothing
    here is computed over the portfolio per request."""
    snapshot = latest_snapshot()
    summary = summary_from(snapshot)
    figures = dashboard.stored_dashboard_figures(snapshot.figures) if snapshot else None
    trend = _trend_rows()
    context = {
        "summary": summary,
        "figures": figures,
        "by_goal": bars(figures["investment_by_goal"]) if figures else [],
        "by_business_strategy": (
            bars(figures["investment_by_business_strategy"]) if figures else []
        ),
        "investment_rule": dashboard.INVESTMENT_RULE,
        "spend": figures["spend"] if figures else None,
        "rule_rows": _rule_rows(summary.get("open_flags_by_rule", {})),
        "severities": [
            (key, label, summary["open_flags_by_severity"].get(key, 0))
            for key, label in (("critical", "Critical"), ("warning", "Warning"), ("info", "Info"))
        ],
        "trend": trend,
        "trend_last": trend[-1] if trend else None,
        "chart": trend_chart(trend, TREND_SERIES) if trend else None,
        "untraced_features": figures["untraced_features"] if figures else [],
        "goal_health": _goal_health_rows(request.user, snapshot),
        "may_scan": can_start_scan(request.user),
        "scan_interval_minutes": settings.ALIGNMENT_SCAN_INTERVAL_SECONDS // 60,
        # The figures' date is shown only when it is not today.
        "now_day": timezone.localdate().strftime("%Y%m%d"),
    }
    return render(request, "alignment/dashboard.html", context)


@require_POST
def scan_start(request: HttpRequest) -> HttpResponse:
    """Ask for a full scan now (the service checks who may)."""
    back = _back_to(request, reverse("alignment:dashboard"))
    try:
        scan = scan_request(actor=request.user)
    except ScanUnavailable as exc:
        messages.error(request, str(exc))
        return redirect(back)
    scan.refresh_from_db()
    if scan.state in (ScanState.DONE, ScanState.FAILED):
        _scan_outcome_message(request, scan)
    else:
        messages.info(
            request, f"Scan {scan.pk} is {scan.get_state_display().lower()}; refresh in a moment."
        )
    return redirect(back)


@require_GET
def scan_status(request: HttpRequest, pk: int) -> HttpResponse:
    """A full scan's state, as the fragment a page polls while it runs (static/js/poll.js).
    Once the scan has ended, an htmx request is told to reload the page (HX-Refresh), so what
    the page shows is what the scan found; the outcome is its message."""
    scan = get_visible_or_404(Scan.objects.all(), request.user, pk=pk)
    ended = scan.state in (ScanState.DONE, ScanState.FAILED)
    if ended and request.htmx:  # type: ignore[attr-defined]
        _scan_outcome_message(request, scan)
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "alignment/partials/scan_status.html", {"scan": scan, "ended": ended})


def _scan_outcome_message(request: HttpRequest, scan: Scan) -> None:
    if scan.state == ScanState.DONE:
        messages.success(
            request,
            f"Scan {scan.pk} finished: {scan.opened} flags opened, {scan.resolved} resolved.",
        )
    else:
        messages.error(request, f"Scan {scan.pk} failed: {scan.error}")


# --- Strategy map and matrix --------------------------------------------------------------


def figures_of(snapshot: Snapshot | None) -> dict[str, Any] | None:
    return snapshot.figures if snapshot else None


def _map_health() -> tuple[Snapshot | None, dict[str, Any] | None]:
    """The newest snapshot and the map's health per node it recorded (None before a scan)."""
    snapshot = latest_snapshot()
    return snapshot, strategy_map.stored_health(snapshot.figures if snapshot else None)


@require_GET
def map_view(request: HttpRequest) -> HttpResponse:
    """The strategy map's first screen: goals and their business strategies, the CRM
    strategies that serve none, each with its health as of the last full scan; a branch's
    children load when it is opened. What does not trace is counted, and listed a page at a
    time on its own pages."""
    form = MapFilterForm(request.GET)
    history = form.include_history()
    snapshot, health = _map_health()
    figures = snapshot_figures(snapshot)
    screen = strategy_map.first_screen(request.user, health, history=history)
    strategy_map.with_verdicts(screen.goals, goal_health.stored(figures_of(snapshot)))
    untraced = None
    if snapshot is not None:
        untraced = {
            "projects": figures["projects_total"] - figures["projects_traced"],
            "features": figures["features_total"] - figures["features_traced"],
        }
    context = {
        "form": form,
        "history": history,
        "screen": screen,
        "figures": figures,
        "untraced": untraced,
        "now_day": timezone.localdate().strftime("%Y%m%d"),
    }
    return render(request, "alignment/map.html", context)


@require_GET
def map_flow_view(request: HttpRequest) -> HttpResponse:
    """The visual strategy map: the first screen's goals and business strategies, the CRM
    strategies serving them, links as wide as the money the last full scan recorded; `crm`
    opens one CRM strategy's projects, a page at a time (its branch). A fixed handful of
    queries over the strategy catalogue and one page of projects."""
    form = MapFilterForm(request.GET)
    history = form.include_history()
    snapshot, health = _map_health()
    figures = snapshot_figures(snapshot)
    screen = strategy_map.first_screen(request.user, health, history=history)
    strategy_map.with_verdicts(screen.goals, goal_health.stored(figures_of(snapshot)))
    business_ids = [child.id for goal in screen.goals for child in goal.children or []]
    crm_nodes, servings = flow.serving_crm_strategies(
        request.user, business_ids, (health or {}).get("crm_strategy", {}), history=history
    )
    opened, branch = _opened_crm(request, health, history=history)
    stored = dashboard.stored_dashboard_figures(snapshot.figures) if snapshot else None
    money_by_bs = (
        {row["id"]: row["amount"] for row in stored["investment_by_business_strategy"]}
        if stored
        else None
    )

    def expand_url(crm_id: int) -> str:
        query = f"?crm={crm_id}" + ("&history=on" if history else "")
        return reverse("alignment:map_flow") + query + "#flow"

    picture = flow.layout(
        screen,
        crm_nodes,
        servings,
        money_by_bs=money_by_bs,
        money_by_serving=flow.stored_flow(snapshot.figures if snapshot else None),
        expand_url=expand_url,
        opened=opened,
        branch=branch,
    )
    if snapshot is not None:
        picture.untraced_projects = figures["projects_total"] - figures["projects_traced"]
    page = branch.page if branch else None
    context = {
        "form": form,
        "history": history,
        "flow": picture,
        "figures": figures,
        "states": flow.STATE_LABELS,
        "page_obj": page,
        "close_url": reverse("alignment:map_flow") + ("?history=on" if history else ""),
        "now_day": timezone.localdate().strftime("%Y%m%d"),
    }
    return render(request, "alignment/map_flow.html", context)


def _opened_crm(
    request: HttpRequest, health: dict[str, Any] | None, *, history: bool
) -> tuple[int | None, strategy_map.Branch | None]:
    """The CRM strategy whose projects the visual map shows (`crm`), and a page of them; a
    CRM strategy the user may not see, or a bad id, is a 404 like its branch page."""
    raw = request.GET.get("crm", "")
    if not raw:
        return None, None
    if not raw.isdigit():
        raise Http404("No such CRM strategy.")
    crm = get_visible_or_404(strategy_map.map_crm_strategies(), request.user, pk=int(raw))
    branch = strategy_map.crm_strategy_branch(
        request.user, crm, health, history=history, page=request.GET.get("page")
    )
    return crm.pk, branch


def _branch_response(
    request: HttpRequest, branch: strategy_map.Branch, *, children: str, history: bool
) -> HttpResponse:
    """A branch's children: for htmx, the list to put into the tree (its next page: just the
    rows, in place of the "more" link); otherwise a page of its own with the branch's parent,
    breadcrumbs and pagination, which is also the no-JavaScript path."""
    page = branch.page
    next_url = branch.parent.page_url(page.next_page_number()) if page.has_next() else ""
    context = {
        "branch": branch,
        "parent": branch.parent,
        "nodes": branch.nodes,
        "page_obj": page,
        "next_url": next_url,
        "remaining": page.paginator.count - page.end_index(),
        "children": children,
        "history": history,
        "rows_only": page.number > 1,
    }
    if request.htmx:  # type: ignore[attr-defined]
        response = render(request, "alignment/partials/map_branch.html", context)
    else:
        response = render(request, "alignment/map_branch.html", context)
    # The same address answers htmx with a fragment and a browser with a page.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _map_options(request: HttpRequest) -> dict[str, Any]:
    return {
        "history": MapFilterForm(request.GET).include_history(),
        "page": request.GET.get("page"),
    }


def _map_branch(
    request: HttpRequest, queryset: Any, pk: int, build: Any, *, children: str
) -> HttpResponse:
    """One branch of the map: the visible object (404 otherwise), its children a page at a
    time, as an htmx fragment or a page of its own."""
    parent = get_visible_or_404(queryset, request.user, pk=pk)
    options = _map_options(request)
    snapshot, health = _map_health()
    branch = build(request.user, parent, health, **options)
    strategy_map.with_verdicts(
        [branch.parent, *branch.nodes], goal_health.stored(figures_of(snapshot))
    )
    return _branch_response(request, branch, children=children, history=options["history"])


@require_GET
def map_goal(request: HttpRequest, pk: int) -> HttpResponse:
    """A goal's business strategies (a branch of the map)."""
    return _map_branch(
        request,
        BusinessGoal.objects.all(),
        pk,
        strategy_map.goal_branch,
        children="Business strategies",
    )


@require_GET
def map_business_strategy(request: HttpRequest, pk: int) -> HttpResponse:
    """The CRM strategies serving a business strategy (a branch of the map)."""
    return _map_branch(
        request,
        strategy_map.map_business_strategies(),
        pk,
        strategy_map.business_strategy_branch,
        children="CRM strategies serving it",
    )


@require_GET
def map_crm_strategy(request: HttpRequest, pk: int) -> HttpResponse:
    """The projects linked to a CRM strategy, with the rationale of each link (a branch)."""
    return _map_branch(
        request,
        strategy_map.map_crm_strategies(),
        pk,
        strategy_map.crm_strategy_branch,
        children="Projects that serve it",
    )


@require_GET
def map_project(request: HttpRequest, pk: int) -> HttpResponse:
    """A project's features (a branch); `?crm=` shows those under one of its CRM strategies."""
    project = get_visible_or_404(CRMProject.objects.all(), request.user, pk=pk)
    crm = None
    crm_id = request.GET.get("crm", "")
    if crm_id:
        crm = get_visible_or_404(CRMStrategy.objects.all(), request.user, pk=crm_id)
    options = _map_options(request)
    branch = strategy_map.project_branch(request.user, project, crm=crm, **options)
    return _branch_response(request, branch, children="Features", history=options["history"])


@require_GET
def map_not_traced(request: HttpRequest) -> HttpResponse:
    """The projects that do not trace, a page at a time, with the projects' filters."""
    history = MapFilterForm(request.GET).include_history()
    projects = strategy_map.untraced_projects(request.user, history=history)
    filterset = ProjectFilterSet(request.GET, projects, request=request)
    context = _not_traced_page(request, filterset, NOT_TRACED_PROJECT_FILTERS)
    context.update(
        nodes=strategy_map.untraced_project_nodes(context["page_obj"], history=history),
        history=history,
        showing="projects",
    )
    return render(request, "alignment/map_not_traced.html", context)


def _not_traced_page(request: HttpRequest, filterset: Any, bar: tuple[str, ...]) -> dict[str, Any]:
    """What core.views.list_page() gives a list page, for a not-traced list: its page is read
    without counting the list (its size is the last scan's, on the map), and only the bar's
    filters are shown — the resources' filters also offer every project and manager, a select
    the size of the portfolio (they still apply from the address)."""
    form = filterset.form
    return {
        "filterset": filterset,
        "filter_fields": [form[name] for name in bar],
        "ordering": filterset.ordering_key(),
        "ordering_in_bar": False,
        "ordering_errors": form.errors.get(ORDERING_PARAM, []),
        "filtered": filterset.is_filtered(),
        "page_obj": uncounted_page(filterset.qs, request.GET.get("page"), MAP_LIST_PAGE),
    }


@require_GET
def map_not_traced_features(request: HttpRequest) -> HttpResponse:
    """The features that do not trace, a page at a time, with the features' filters."""
    history = MapFilterForm(request.GET).include_history()
    features = strategy_map.untraced_features(request.user, history=history)
    filterset = FeatureFilterSet(request.GET, features, request=request)
    context = _not_traced_page(request, filterset, NOT_TRACED_FEATURE_FILTERS)
    context.update(
        nodes=strategy_map.untraced_feature_nodes(context["page_obj"]),
        history=history,
        showing="features",
    )
    return render(request, "alignment/map_not_traced.html", context)


@require_GET
def matrix_view(request: HttpRequest) -> HttpResponse:
    """Projects by CRM strategies: which project claims to serve which strategy, and why."""
    form = MatrixFilterForm(request.GET)
    projects = dashboard.matrix_projects(status=form.status_value())
    page = paginate(request, projects, MATRIX_PROJECTS_PER_PAGE, rows=dashboard.matrix_rows())
    # The CRM strategies come a page at a time too (`columns`): 500 of them made a page of 25
    # projects 12,500 cells and 1.4 MB.
    column_page = Paginator(dashboard.matrix_columns(), MATRIX_STRATEGIES_PER_PAGE).get_page(
        request.GET.get("columns")
    )
    columns = list(column_page)
    cells = dashboard.matrix_cells([project.pk for project in page], [col["id"] for col in columns])
    rows = [
        {
            "project": project,
            "cells": [(col, cells.get((project.pk, col["id"]))) for col in columns],
        }
        for project in page
    ]
    context = {
        "form": form,
        "page_obj": page,
        "column_page": column_page,
        "columns": columns,
        "rows": rows,
    }
    return render(request, "alignment/matrix.html", context)


# --- Flag inbox ---------------------------------------------------------------------------


def _flag_row(request: HttpRequest, flag: Flag, **extra: Any) -> dict[str, Any]:
    rule = RULES.get(flag.rule)
    why_not = why_cannot_act_on_flag(request.user, flag)
    return {
        "flag": flag,
        # The flag's message is the rule's advice with its threshold filled in.
        "why": rule.why if rule else "",
        "can_act": not why_not,
        "why_not": why_not,
        "waive_form": extra.pop("waive_form", None) or WaiveForm(prefix_id=f"flag{flag.pk}"),
        **extra,
    }


def _back_to(request: HttpRequest, default: str) -> str:
    """The page a form came from (`next`, if it is on this site), else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _back_to_inbox(request: HttpRequest) -> str:
    return _back_to(request, reverse("alignment:flags"))


def _render_row(request: HttpRequest, flag: Flag, **extra: Any) -> HttpResponse:
    with_explanations([flag])
    context = {
        "row": _flag_row(request, flag, **extra),
        "next": _back_to_inbox(request),
        "may_act": can_act_on_some_flag(request.user),
    }
    return render(request, "alignment/partials/flag_row.html", context)


@require_GET
def flag_list(request: HttpRequest) -> HttpResponse:
    """Flags with the API's filters (state — unresolved by default —, severity, rule, subject,
    mine), sorted and paginated; or, with `group=rule|project`, those flags grouped with a
    count per group, a page of groups at a time, and `open=<group>` one group's flags a page
    at a time. Selected flags are acknowledged or waived together (flag_bulk_view)."""
    filterset = FlagFilterSet(request.GET, flags_visible_to(request.user), request=request)
    grouping = InboxGroupForm(request.GET)
    by, open_key = grouping.grouping()
    context = list_page(
        request,
        filterset,
        bar=("state", "severity", "rule", "subject_type", "ordering", "mine"),
        per_page=FLAGS_PER_PAGE,
    )
    # The grouping control sits in the filter bar: filtering keeps the grouping, and grouping
    # keeps the filters.
    context["filter_fields"].append(grouping["group"])
    context.update(by=by, open_key=open_key, group=None, groups=None)
    if by and open_key:
        flags = flags_of_group(filterset.qs, by, open_key)
        if flags is None:
            raise Http404
        context["page_obj"] = paginate(request, flags, FLAGS_PER_PAGE)
        context["group"] = _open_group(by, open_key, context["page_obj"])
    elif by:
        context["page_obj"] = paginate(request, flag_groups(filterset.qs, by), FLAGS_PER_PAGE)
        context["groups"] = _group_rows(by, context["page_obj"])
    if context["groups"] is None:
        # The page's broken chains, read together (alignment.explain).
        page = with_explanations(context["page_obj"])
        context["rows"] = [_flag_row(request, flag) for flag in page]
    context["next"] = request.get_full_path()
    context["may_act"] = can_act_on_some_flag(request.user)
    context["bulk_form"] = BulkFlagForm(auto_id="id_bulk_%s")
    context["bulk_max"] = BULK_MAX
    context["may_scan"] = can_start_scan(request.user)
    context["scan_in_progress"] = full_scan_in_progress()
    return render(request, "alignment/flags.html", context)


def _group_rows(by: str, page: Any) -> list[dict[str, Any]]:
    """A page of groups as the inbox shows them: a rule's title, severity and advice once, or a
    project's title (one query for the page's projects)."""
    severities = dict(enumerate(("critical", "warning", "info")))
    titles: dict[int, str] = {}
    if by == "project":
        ids = [group["project_id"] for group in page if group["project_id"] is not None]
        titles = dict(CRMProject.objects.filter(pk__in=ids).values_list("pk", "title"))
    rows = []
    for group in page:
        row = {"count": group["count"], "severity": severities.get(group["worst"], "")}
        if by == "rule":
            rule = RULES.get(group["rule"])
            row.update(
                key=group["rule"],
                title=rule.title if rule else group["rule"],
                code=group["rule"],
                advice=group["advice"],
                why=rule.why if rule else "",
            )
        else:
            project_id = group["project_id"]
            row.update(
                key=project_id or NO_PROJECT,
                title=titles.get(project_id, "") if project_id else "No project",
                project_id=project_id,
            )
        rows.append(row)
    return rows


def _open_group(by: str, key: str, page: Any) -> dict[str, Any]:
    """The heading of an opened group: for a rule, its advice once (from a flag of the page:
    the rule's advice with its threshold filled in); for a project, its title."""
    first = page.object_list[0] if page.object_list else None
    if by == "rule":
        rule = RULES.get(key)
        return {
            "key": key,
            "title": rule.title if rule else key,
            "code": key,
            "advice": first.message if first else (rule.advice if rule else ""),
            "why": rule.why if rule else "",
        }
    title = "No project"
    if key != NO_PROJECT:
        project = first.project if first else CRMProject.objects.filter(pk=key).first()
        title = project.title if project else ""
    return {"key": key, "title": title, "project_id": None if key == NO_PROJECT else key}


@require_POST
def flag_bulk_view(request: HttpRequest) -> HttpResponse:
    """Acknowledge or waive the flags selected in the inbox, one reason and end date for all
    waivers. Each flag is decided like a single one (flags_decide_in_bulk); the messages say
    which were done, which refused and why, which are gone. Bad input: the form again (400),
    naming the field, with nothing decided."""
    form = BulkFlagForm(request.POST, auto_id="id_bulk_%s")
    if form.is_valid():
        try:
            outcomes = flags_decide_in_bulk(
                actor=request.user,
                action=form.cleaned_data["action"],
                flag_ids=form.cleaned_data["ids"],
                reason=form.cleaned_data["reason"],
                expires_at=form.expires_at(),
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            _bulk_messages(request, form, outcomes)
            return redirect(_back_to_inbox(request))
    ids = [int(pk) for pk in request.POST.getlist("ids") if str(pk).isdigit()][:BULK_MAX]
    context = {
        "form": form,
        "selected": flags_visible_to(request.user).filter(pk__in=ids).order_by("pk"),
        "next": _back_to_inbox(request),
        "bulk_max": BULK_MAX,
    }
    return render(request, "alignment/flag_bulk.html", context, status=400)


def _bulk_messages(request: HttpRequest, form: BulkFlagForm, outcomes: list[BulkOutcome]) -> None:
    waive = form.cleaned_data["action"] == BulkAction.WAIVE
    done = [o for o in outcomes if o.status == BulkStatus.DONE]
    refused = [o for o in outcomes if o.status == BulkStatus.REFUSED]
    missing = [o for o in outcomes if o.status == BulkStatus.NOT_FOUND]
    if done:
        verb = "Waived" if waive else "Acknowledged"
        until = f" until {form.cleaned_data['expires_on']:%d %b %Y}" if waive else ""
        noun = "flag" if len(done) == 1 else "flags"
        messages.success(request, f"{verb} {len(done)} {noun}{until}.")
    labels = dict(
        flags_visible_to(request.user)
        .filter(pk__in=[o.flag_id for o in refused])
        .values_list("pk", "subject_label")
    )
    for outcome in refused:
        label = labels.get(outcome.flag_id, f"flag {outcome.flag_id}")
        verb = "waived" if waive else "acknowledged"
        messages.error(request, f"Not {verb}: {label}. {outcome.detail}")
    if missing:
        noun = "flag was" if len(missing) == 1 else "flags were"
        messages.error(request, f"{len(missing)} selected {noun} not found.")


@require_POST
def flag_acknowledge_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Acknowledge a flag: "we know; it stays open until fixed"."""
    flag = flag_for(request.user, pk, act=True)
    error = ""
    try:
        flag = flag_acknowledge(actor=request.user, flag_id=pk)
    except ValidationError as exc:
        error = refusal_message(exc)
    if request.htmx:  # type: ignore[attr-defined]
        return _render_row(request, flag_for(request.user, pk), error=error)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Acknowledged: {flag.subject_label}.")
    return redirect(_back_to_inbox(request))


@require_http_methods(["GET", "POST"])
def flag_waive_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Waive a flag with a reason and an expiry. GET shows the form on its own page (the
    no-JavaScript path); an htmx POST answers with the inbox row."""
    flag = flag_for(request.user, pk, act=True)
    form = WaiveForm(request.POST or None, prefix_id=f"flag{flag.pk}")
    if request.method == "POST" and form.is_valid():
        try:
            flag = flag_waive(
                actor=request.user,
                flag_id=pk,
                reason=form.cleaned_data["reason"],
                expires_at=form.expires_at(),
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            if request.htmx:  # type: ignore[attr-defined]
                return _render_row(request, flag_for(request.user, pk), waived=True)
            messages.success(
                request,
                f"Waived until {form.cleaned_data['expires_on']:%d %b %Y}: {flag.subject_label}.",
            )
            return redirect(_back_to_inbox(request))
    if request.htmx:  # type: ignore[attr-defined]
        return _render_row(request, flag, waive_form=form, waive_open=True)
    status = 400 if request.method == "POST" else 200
    context = {
        "flag": flag,
        "flag_as_list": with_explanations([flag]),
        "form": form,
        "next": _back_to_inbox(request),
    }
    return render(request, "alignment/flag_waive.html", context, status=status)


def _add_service_errors(form: WaiveForm | BulkFlagForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            target = SERVICE_FIELD_TO_FORM.get(name, name)
            form.add_error(target if target in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --- Partials for other pages -------------------------------------------------------------


@require_GET
def project_flags(request: HttpRequest, pk: int) -> HttpResponse:
    """The open flags of one project (and its features) with each rule's advice: an htmx
    fragment the project page polls so flags update soon after a save."""
    project = get_visible_or_404(CRMProject.objects.all(), request.user, pk=pk)
    flags = with_explanations(project_flags_needing_attention(request.user, project))
    return render(
        request, "alignment/partials/project_flags.html", {"project": project, "flags": flags}
    )


@require_GET
def project_readiness(request: HttpRequest, pk: int) -> HttpResponse:
    """The project's readiness checklist alone: the project page re-fetches it after each
    inline save."""
    project = get_visible_or_404(CRMProject.objects.all(), request.user, pk=pk)
    return render(
        request, "alignment/partials/readiness.html", readiness_panel(request.user, project)
    )


# --- Approval -------------------------------------------------------------------------------


def _decide_on_page(request: HttpRequest, pk: int, decide: Any, done: str) -> HttpResponse:
    """A sponsor's decision from the project page's approval card: the comment typed there,
    the version the page was rendered with (a decision on a stale page is refused), and the
    outcome or refusal as a message on the project page."""
    project = project_for(request.user, pk)  # 404 for what the user may not see
    try:
        # The service decides who may decide (403 otherwise) on the locked, stored row.
        project = decide(
            project_id=pk,
            actor=request.user,
            version=posted_version(request),
            comment=request.POST.get("comment", ""),
        )
    except EditConflict as conflict:
        messages.error(request, f"{conflict} Nothing was {done}: look at it again first.")
    except ValidationError as error:
        messages.error(request, refusal_message(error))
    else:
        messages.success(request, f"Project “{project}” {done}.")
    return redirect(project.get_absolute_url() + "#approval")


@require_POST
def project_approve_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The sponsor approves; refused, with the reasons, while a rule that blocks approval holds
    for the project."""
    return _decide_on_page(request, pk, project_approve, "approved")


@require_POST
def project_reject_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The sponsor rejects, saying why: the project is cancelled, the reason on its thread."""
    return _decide_on_page(request, pk, project_reject, "rejected")


@require_POST
def project_send_back_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The sponsor sends the project back to its manager with what to fix."""
    return _decide_on_page(request, pk, project_send_back, "sent back")
