"""The spreadsheet pages: the Import page (upload a workbook to check or import it), a job's page
(progress while it runs, the report when done, "Apply this file" after a clean check), the
downloads (the portfolio workbook, the template, the demo), and the CSV exports of the goals,
projects and flags lists with the list's own filters and ordering."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alignment.filters import FlagFilterSet
from alignment.selectors import flags_visible_to
from core.lists import rows_in_order
from core.middleware import accepts_upload
from core.permissions import can_import_portfolio
from goals.filters import GoalFilterSet
from goals.selectors import goals_with_counts
from projects.filters import ProjectFilterSet
from projects.selectors import projects_to_list, projects_with_trace

from . import jobs
from .api import workbook_response

RECENT_JOBS = 10
CSV_CHUNK = 1000


# --- The Import page


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Workbook or CSV file",
        required=False,  # a missing file gets our own message (jobs.check_upload)
        help_text="An Excel workbook (.xlsx) in the template's format, or one sheet as CSV.",
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data.get("file")
        try:
            jobs.check_upload(upload)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["file"]) from None
        return upload


def _refuse_unless_importer(request: HttpRequest) -> None:
    if not can_import_portfolio(request.user):
        raise PermissionDenied(jobs.IMPORT_REFUSAL)


@accepts_upload
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest) -> HttpResponse:
    """Upload a file and either check it (a dry run: every problem, nothing written) or import
    it; the job's page follows. Executives and admins."""
    _refuse_unless_importer(request)
    form = UploadForm()
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            dry_run = request.POST.get("action") != "import"
            try:
                job = jobs.start_import(
                    actor=request.user,
                    upload=form.cleaned_data["file"],
                    dry_run=dry_run,
                    site_url=request.build_absolute_uri("/").rstrip("/"),
                )
            except jobs.ImportUnavailable as exc:
                messages.error(request, str(exc))
                return redirect("onboarding:job", pk=exc.job.pk)
            return redirect("onboarding:job", pk=job.pk)
    recent = list(jobs.jobs_of(request.user).filter(created_by=request.user)[:RECENT_JOBS])
    return render(request, "onboarding/import.html", {"form": form, "recent": recent})


# --- A job's page


REPORT_SORTS = ("sheet", "row", "column")


def _sorted_problems(problems: Sequence[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    """The report's problems by sheet, row or column (descending with a leading '-'), the
    others breaking ties; a problem about a whole sheet (no row) or row (no column) first."""
    key_name = sort.lstrip("-")
    order = [key_name, *(name for name in REPORT_SORTS if name != key_name)]

    def key(problem: dict[str, Any]) -> tuple[Any, ...]:
        parts: list[Any] = []
        for name in order:
            value = problem.get(name)
            if name == "row":
                parts.append((value is not None, value if isinstance(value, int) else 0))
            else:
                parts.append((value is not None, str(value or "").lower()))
        return tuple(parts)

    return sorted(problems, key=key, reverse=sort.startswith("-"))


def _sort_param(request: HttpRequest) -> str:
    sort = request.GET.get("ordering", "sheet")
    return sort if sort.lstrip("-") in REPORT_SORTS else "sheet"


@require_GET
def job_page(request: HttpRequest, pk: int) -> HttpResponse:
    """A job: its progress while it runs (the bar is polled, static/js/poll.js), its report
    when done, sortable by sheet, row or column."""
    job = jobs.job_for(request.user, pk)
    sort = _sort_param(request)
    context = {
        "job": job,
        "ordering": sort,  # the column headers' sort links (ui.sort_link)
        "report_tables": [
            ("Errors", _sorted_problems(job.errors, sort), job.errors_total, "job-errors"),
            ("Warnings", _sorted_problems(job.warnings, sort), job.warnings_total, "job-warnings"),
        ],
        "may_apply": job.dry_run and job.is_clean and can_import_portfolio(request.user),
        "counts": [
            (kind, job.created.get(kind, 0), job.updated.get(kind, 0))
            for kind in sorted(set(job.created) | set(job.updated))
        ],
    }
    return render(request, "onboarding/job.html", context)


@require_GET
def job_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment the job's page polls. Once the job has ended, an htmx request is
    told to reload the page (HX-Refresh), which then shows the report."""
    job = jobs.job_for(request.user, pk)
    if job.finished and getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "onboarding/partials/job_progress.html", {"job": job})


@require_POST
def apply_job(request: HttpRequest, pk: int) -> HttpResponse:
    """Apply the file of a clean check, as a new job reading the stored bytes."""
    _refuse_unless_importer(request)
    try:
        job = jobs.apply_checked(actor=request.user, job_id=pk)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("onboarding:job", pk=pk)
    except jobs.ImportUnavailable as exc:
        messages.error(request, str(exc))
        return redirect("onboarding:job", pk=exc.job.pk)
    return redirect("onboarding:job", pk=job.pk)


# --- Downloads


def _stamp() -> str:
    return timezone.localdate().isoformat()


@require_GET
def export_workbook(request: HttpRequest) -> HttpResponse:
    """The portfolio as the workbook the import reads; every role, all it may read."""
    return workbook_response(actor=request.user, filename=f"portfolio-{_stamp()}.xlsx")


@require_GET
def download_template(request: HttpRequest) -> HttpResponse:
    """The empty workbook: the README sheet and one example row per sheet."""
    from .export import XLSX_CONTENT_TYPE, write_template

    response = HttpResponse(content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = 'attachment; filename="portfolio-template.xlsx"'
    write_template(response)
    return response


@require_GET
def download_demo(request: HttpRequest) -> HttpResponse:
    """The demo portfolio (the seed example) as a workbook."""
    from .export import XLSX_CONTENT_TYPE, write_demo_workbook

    response = HttpResponse(content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = 'attachment; filename="portfolio-demo.xlsx"'
    write_demo_workbook(response)
    return response


# --- CSV of a filtered list

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula: text starting with = + - @ (or a tab or
    carriage return) gets a leading apostrophe. Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_rows(
    header: Sequence[str],
    ordered: QuerySet[Any],
    rows: QuerySet[Any],
    cells: Callable[[Any], Iterable[Any]],
) -> Iterator[str]:
    """The header, then a line per object of `ordered` (the list's filtered and ordered
    queryset), read CSV_CHUNK at a time through `rows` (with the figures the list shows), so
    the cost is one query per chunk, not per row."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)  # the BOM: spreadsheets then read UTF-8
    ids = list(ordered.values_list("pk", flat=True))
    for start in range(0, len(ids), CSV_CHUNK):
        for obj in rows_in_order(rows, ids[start : start + CSV_CHUNK]):
            yield writer.writerow([csv_safe(cell) for cell in cells(obj)])


def _csv_response(name: str, lines: Iterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{_stamp()}.csv"'
    return response


def _person(user: Any) -> str:
    return user.get_username() if user is not None else ""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _amount(value: Any) -> str:
    """Money to the cent, the same on every database ("1500.00")."""
    return "" if value is None else f"{Decimal(value):.2f}"


GOAL_COLUMNS = [
    "id",
    "title",
    "status",
    "priority",
    "owner",
    "horizon_start",
    "horizon_end",
    "business_strategies",
    "active_business_strategies",
    "kpis",
    "description",
]


@require_GET
def goals_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The goals list as CSV: the same filters and ordering as the page (GoalFilterSet)."""
    filterset = GoalFilterSet(request.GET, goals_with_counts(), request=request)

    def cells(goal: Any) -> list[Any]:
        return [
            goal.pk,
            goal.title,
            goal.status,
            goal.get_priority_display(),
            _person(goal.owner),
            _text(goal.horizon_start),
            _text(goal.horizon_end),
            goal.business_strategy_count,
            goal.active_business_strategy_count,
            goal.kpi_count,
            goal.description,
        ]

    return _csv_response("goals", _csv_rows(GOAL_COLUMNS, filterset.qs, goals_with_counts(), cells))


PROJECT_COLUMNS = [
    "id",
    "title",
    "status",
    "manager",
    "sponsor",
    "department",
    "business_owner",
    "start_date",
    "end_date",
    "budget_technology",
    "budget_people",
    "budget_process",
    "budget_training",
    "budget_incentives",
    "budget_total",
    "linked",
    "traceable",
    "features",
    "features_traced",
]


@require_GET
def projects_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The projects list as CSV: the same filters and ordering as the page
    (ProjectFilterSet), with the figures the list shows."""
    filterset = ProjectFilterSet(request.GET, projects_to_list(), request=request)

    def cells(project: Any) -> list[Any]:
        return [
            project.pk,
            project.title,
            project.status,
            _person(project.manager),
            _person(project.sponsor),
            project.department.name if project.department else "",
            _person(project.business_owner),
            _text(project.start_date),
            _text(project.end_date),
            _amount(project.budget_technology),
            _amount(project.budget_people),
            _amount(project.budget_process),
            _amount(project.budget_training),
            _amount(project.budget_incentives),
            _amount(project.budget_sum),
            "yes" if project.is_linked else "no",
            "yes" if project.is_traceable else "no",
            project.feature_count,
            project.features_traced,
        ]

    return _csv_response(
        "projects", _csv_rows(PROJECT_COLUMNS, filterset.qs, projects_with_trace(), cells)
    )


FLAG_COLUMNS = [
    "id",
    "severity",
    "rule",
    "subject_type",
    "subject_id",
    "subject",
    "project",
    "state",
    "message",
    "first_seen",
    "last_seen",
    "acknowledged_by",
    "waived_by",
    "waiver_reason",
    "waiver_expires_at",
]


@require_GET
def flags_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The flag inbox as CSV: the same filters and ordering (FlagFilterSet; unresolved flags
    by default), one line per flag."""
    filterset = FlagFilterSet(request.GET, flags_visible_to(request.user), request=request)

    def cells(flag: Any) -> list[Any]:
        return [
            flag.pk,
            flag.severity,
            flag.rule,
            flag.subject_type,
            flag.subject_id,
            flag.subject_label,
            flag.project.title if flag.project else "",
            flag.state,
            flag.message,
            _text(flag.first_seen),
            _text(flag.last_seen),
            _person(flag.acknowledged_by),
            _person(flag.waived_by),
            flag.waiver_reason,
            _text(flag.waiver_expires_at),
        ]

    return _csv_response(
        "flags", _csv_rows(FLAG_COLUMNS, filterset.qs, flags_visible_to(request.user), cells)
    )
