"""Pages are default-deny: every page needs a signed-in user with a role unless its view says
otherwise, so a new page cannot forget the check.

- `@public` — anyone (sign-in, password reset);
- `@signed_in` — any signed-in user, role or not (home explains a missing role; password
  change);
- everything else — a role (any role reads; the access functions decide who may change what).
  Anonymous visitors are sent to sign in; a signed-in user without a role gets 404, so pages do
  not reveal what exists.

The API and the admin have their own authentication and permissions and are left to them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse

from .permissions import can_read

V = TypeVar("V", bound=Callable[..., Any])

# URL namespaces that authenticate and authorise on their own.
SELF_GUARDED_NAMESPACES = frozenset({"api", "admin"})


def public(view: V) -> V:
    """Mark a page anyone may open, signed in or not."""
    view.access = "public"  # type: ignore[attr-defined]
    return view


def signed_in(view: V) -> V:
    """Mark a page any signed-in user may open, with or without a role."""
    view.access = "signed_in"  # type: ignore[attr-defined]
    return view


def page_access(view: Callable[..., Any]) -> str:
    """What a page view needs: "public", "signed_in" or "role" (the default)."""
    view_class = getattr(view, "view_class", None)
    return getattr(view, "access", None) or getattr(view_class, "access", None) or "role"


class DefaultDenyMiddleware:
    """Refuse every page whose view did not opt out, before the view runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        if match is not None and SELF_GUARDED_NAMESPACES & set(match.namespaces):
            return None
        access = page_access(view)
        if access == "public":
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if access == "signed_in" or can_read(request.user):
            return None
        raise Http404
