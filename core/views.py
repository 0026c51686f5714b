"""Helpers every page shares: the reader gate, pagination, sorting, filter parameters and the
shared form page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from .permissions import can_read

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
