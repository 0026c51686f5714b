"""Helpers every page shares: the reader gate, pagination, list pages driven by a FilterSet and
the shared form page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from .counts import CountingPaginator
from .filters import ORDERING_PARAM, FilterSet
from .forms import add_conflict, add_service_errors, edited_fields, refusal_message
from .lists import rows_in_order
from .services import EditConflict

PAGE_SIZE = 25


def paginate(
    request: HttpRequest,
    queryset: QuerySet[Any],
    per_page: int | None = None,
    *,
    rows: QuerySet[Any] | None = None,
) -> Page:
    """The requested page; a bad or out-of-range page number gives the nearest real page.

    With `rows`, `queryset` only filters and orders: the page is a page of its ids, and its
    objects are read from `rows` (the selector with the per-row figures) for those ids alone
    (core.lists)."""
    per_page = per_page or PAGE_SIZE
    if rows is None:
        return CountingPaginator(queryset, per_page).get_page(request.GET.get("page"))
    page = CountingPaginator(queryset.values_list("pk", flat=True), per_page).get_page(
        request.GET.get("page")
    )
    page.object_list = rows_in_order(rows, list(page.object_list))
    return page


@dataclass
class UncountedPage:
    """A page of a list too long to count per request (what does not trace can be a fifth of
    a million features; the change history grows with every edit): one more row than the
    page is read to know whether a next exists. `components/uncounted_pagination.html` shows
    it."""

    object_list: list[Any]
    number: int
    more: bool

    def __iter__(self) -> Any:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    def has_next(self) -> bool:
        return self.more

    def has_previous(self) -> bool:
        return self.number > 1

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1


def uncounted_page(queryset: QuerySet[Any], number: Any, per_page: int) -> UncountedPage:
    """The requested page (a bad number gives the first) without counting the list; past the
    end, an empty page that says so."""
    try:
        page = max(int(number), 1)
    except (TypeError, ValueError):
        page = 1
    start = (page - 1) * per_page
    rows = list(queryset[start : start + per_page + 1])
    return UncountedPage(rows[:per_page], page, len(rows) > per_page)


def list_page(
    request: HttpRequest,
    filterset: FilterSet,
    *,
    bar: Sequence[str],
    per_page: int | None = None,
    rows: QuerySet[Any] | None = None,
) -> dict[str, Any]:
    """What a list page renders from its resource's FilterSet (the same one its API uses): the
    page of rows the filters select, in the requested order; the filter bar — the fields named
    in `bar`, plus any other filter the query string uses, so it can be seen and cleared —
    and the current ordering for the column headers. A refused value shows as an error on its
    field and filters nothing. With `rows`, the filterset's queryset only filters and orders,
    and the page's objects come from `rows` (see `paginate`)."""
    form = filterset.form
    shown = [
        form[name]
        for name in form.fields
        if name in bar
        or (name != ORDERING_PARAM and (form[name].data not in (None, "", []) or form[name].errors))
    ]
    return {
        "filterset": filterset,
        "filter_fields": shown,
        # Without a select for it, the bar carries the ordering (that of the column headers).
        "ordering": filterset.ordering_key(),
        "ordering_in_bar": ORDERING_PARAM in bar,
        "ordering_errors": [] if ORDERING_PARAM in bar else form.errors.get(ORDERING_PARAM, []),
        "filtered": filterset.is_filtered(),
        "page_obj": paginate(request, filterset.qs, per_page, rows=rows),
    }


def form_page(
    request: HttpRequest,
    form: Any,
    heading: str,
    *,
    crumbs: list[tuple[str, str]] | tuple[()] = (),
    button: str = "Save",
    cancel_url: str = "",
    intro: str = "",
    template: str = "form_page.html",
    **extra: Any,
) -> HttpResponse:
    """Render a form on the shared form page (a heading, breadcrumbs, the fields, a button)."""
    context = {
        "form": form,
        "heading": heading,
        "crumbs": crumbs,
        "button": button,
        "cancel_url": cancel_url,
        "intro": intro,
        **extra,
    }
    return render(request, template, context)


def save_form(form: Any, save: Callable[..., Any]) -> Any:
    """Call the service with a valid form's data — for an edit only the fields the person
    changed since opening it — and the version it was opened at. A refusal lands on the form
    (field errors next to their inputs, an edit conflict with the values saved meanwhile) and
    None is returned, so the caller renders the form again with the person's input kept."""
    changes = dict(form.cleaned_data)
    version = changes.pop("version", None)
    if getattr(getattr(form, "instance", None), "pk", None) is not None:
        edited = set(edited_fields(form))
        changes = {name: value for name, value in changes.items() if name in edited}
    try:
        return save(changes, version)
    except EditConflict as conflict:
        add_conflict(form, conflict)
    except ValidationError as error:
        add_service_errors(form, error)
    return None


def submit_form(
    request: HttpRequest,
    form: Any,
    save: Callable[..., Any],
    *,
    success: str | Callable[[Any], str],
    redirect_to: Callable[[Any], Any] | None = None,
) -> HttpResponse | None:
    """The body every page form shares: on a valid POST call the service with the form's
    cleaned data (and the version the form was opened at), then say so and redirect to the
    saved object (or `redirect_to(obj)`). A refusal lands on the form — field errors next to
    their inputs, an edit conflict with the values saved meanwhile — and None is returned so
    the caller renders the form again with the person's input kept."""
    if request.method != "POST" or not form.is_valid():
        return None
    obj = save_form(form, save)
    if obj is None:
        return None
    messages.success(request, success(obj) if callable(success) else success)
    return redirect(redirect_to(obj) if redirect_to else obj)


def edit_view(
    *,
    fetch: Callable[..., Any],
    form_class: Callable[..., Any],
    update: Callable[..., Any],
    id_kwarg: str,
    heading: Callable[[Any], str],
    crumbs: Callable[[Any], Sequence[tuple[str, str]]],
    button: str,
    saved: Callable[[Any], str],
    page_of: Callable[[Any], Any] = lambda obj: obj,
    anchor: str = "",
    template: str = "form_page.html",
) -> Callable[[HttpRequest, int], HttpResponse]:
    """The edit page of one kind of object, declared instead of written out per entity:
    fetch it through its gate (404 / 403), show its form, save through its update service with
    the version the form was opened at, then go back to the page it belongs on (`page_of`,
    e.g. a metric's project, with `#anchor`)."""

    def view(request: HttpRequest, pk: int) -> HttpResponse:
        obj = fetch(request.user, pk, change=True)
        # Read before the form is validated: validation writes the person's input into `obj`.
        title, trail, back = heading(obj), list(crumbs(obj)), page_of(obj).get_absolute_url()
        form = form_class(request.POST or None, instance=obj)
        return submit_form(
            request,
            form,
            lambda changes, version: update(
                actor=request.user, **{id_kwarg: pk}, changes=changes, version=version
            ),
            success=saved,
            redirect_to=lambda obj: f"{page_of(obj).get_absolute_url()}{anchor}",
        ) or form_page(
            request, form, title, crumbs=trail, button=button, cancel_url=back, template=template
        )

    return view


def posted_version(request: HttpRequest) -> int | None:
    """The version a button's form was rendered with (None if it sent none or nonsense)."""
    try:
        return int(request.POST["version"])
    except (KeyError, ValueError):
        return None


def act(request: HttpRequest, action: Callable[[], Any], done: str | None) -> bool:
    """Run a button's service call: say it is done (unless `done` is None), or why it was
    refused (an edit conflict, a rule, a dependent) — never a 500. True when it was done."""
    try:
        action()
    except EditConflict as conflict:
        messages.error(request, f"{conflict} Nothing was changed: look at it again first.")
    except ValidationError as error:
        messages.error(request, refusal_message(error))
    else:
        if done is not None:
            messages.success(request, done)
        return True
    return False


def delete_view(
    *,
    fetch: Callable[..., Any],
    delete: Callable[..., Any],
    id_kwarg: str,
    deleted: Callable[[Any], str],
    page_of: Callable[[Any], Any],
    anchor: str = "",
) -> Callable[[HttpRequest, int], HttpResponse]:
    """The delete button of one kind of object: GET asks first (a page naming the object, with
    Delete and Cancel: no script needed), POST fetches it through its gate, deletes it through
    its service with the version the page showed, says so and goes back to the page it
    belonged on."""

    @require_http_methods(["GET", "HEAD", "POST"])
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        obj = fetch(request.user, pk, change=True)
        if request.method != "POST":
            return render(
                request,
                "confirm_delete.html",
                {
                    "object": obj,
                    "noun": obj._meta.verbose_name,
                    "back": f"{page_of(obj).get_absolute_url()}{anchor}",
                },
            )
        version = posted_version(request)
        act(
            request,
            lambda: delete(actor=request.user, **{id_kwarg: pk}, version=version),
            deleted(obj),
        )
        return redirect(f"{page_of(obj).get_absolute_url()}{anchor}")

    return view


def retire_view(
    *,
    fetch: Callable[..., Any],
    update: Callable[..., Any],
    id_kwarg: str,
    status: str,
    refusal: str,
    retired: Callable[[Any], str],
) -> Callable[[HttpRequest, int], HttpResponse]:
    """The retire button of a goal or strategy: a status change through its update service,
    with the version the page showed."""

    @require_POST
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        obj = fetch(request.user, pk, change=True, refusal=refusal)
        version = posted_version(request)
        act(
            request,
            lambda: update(
                actor=request.user, **{id_kwarg: pk}, changes={"status": status}, version=version
            ),
            retired(obj),
        )
        return redirect(obj)

    return view


def create_view(
    *,
    permitted: Callable[[Any], bool],
    refusal: str,
    form_class: Callable[..., Any],
    create: Callable[..., Any],
    heading: str,
    crumbs: Callable[[], Sequence[tuple[str, str]]],
    button: str,
    cancel: Callable[[], str],
    saved: Callable[[Any], str],
    intro: str = "",
    template: str = "form_page.html",
) -> Callable[[HttpRequest], HttpResponse]:
    """The "new …" page of one kind of top-level object, declared instead of written out: 403
    unless the role may create it, the form, the create service, then the new object's page."""

    def view(request: HttpRequest) -> HttpResponse:
        if not permitted(request.user):
            raise PermissionDenied(refusal)
        form = form_class(request.POST or None)
        return submit_form(
            request,
            form,
            lambda changes, _version: create(actor=request.user, **changes),
            success=saved,
        ) or form_page(
            request,
            form,
            heading,
            crumbs=list(crumbs()),
            button=button,
            cancel_url=cancel(),
            intro=intro,
            template=template,
        )

    return view
