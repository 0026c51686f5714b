"""Helpers every page shares: the reader gate, pagination, sorting, filter parameters and the
shared form page."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .forms import add_conflict, add_service_errors
from .permissions import can_read
from .services import EditConflict

PAGE_SIZE = 25


def require_reader(request: HttpRequest) -> None:
    """Signed-in users without a role see nothing: every page answers 404 for them."""
    if not can_read(request.user):
        raise Http404


def paginate(request: HttpRequest, queryset: QuerySet[Any], per_page: int = PAGE_SIZE) -> Page:
    """The requested page; a bad or out-of-range page number gives the nearest real page."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def sort_order(
    request: HttpRequest, allowed: Mapping[str, tuple[str, ...]], default: str
) -> tuple[str, tuple[str, ...]]:
    """The `sort` parameter if it names an allowed column ("-" for descending), else default.
    Returns the key the page shows and the ORDER BY fields (with a tiebreaker on id)."""
    key = request.GET.get("sort", default)
    name = key.removeprefix("-")
    if name not in allowed:
        key, name = default, default.removeprefix("-")
    fields = allowed[name]
    if key.startswith("-"):
        fields = tuple(f[1:] if f.startswith("-") else f"-{f}" for f in fields)
    return key, (*fields, "-pk" if key.startswith("-") else "pk")


def choice_param(request: HttpRequest, name: str, choices: Any) -> str:
    """A filter value that must be one of `choices`; anything else means "no filter"."""
    value = request.GET.get(name, "")
    return value if value in {str(c) for c in choices} else ""


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
    changes = dict(form.cleaned_data)
    version = changes.pop("version", None)
    try:
        obj = save(changes, version)
    except EditConflict as conflict:
        add_conflict(form, conflict)
        return None
    except ValidationError as error:
        add_service_errors(form, error)
        return None
    messages.success(request, success(obj) if callable(success) else success)
    return redirect(redirect_to(obj) if redirect_to else obj)
