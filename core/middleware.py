"""Two guards every request passes.

HostileInputMiddleware: a NUL character anywhere in the query string or a form body is refused
with 400 before any view (PostgreSQL cannot store one in text, and search or filter code would
fail on it with a 500); a write that collided with another request (an IntegrityError from a
row deleted meanwhile, a deadlock) answers 409 instead of 500.

DefaultDenyMiddleware: pages are default-deny: every page needs a signed-in user with a role
unless its view says otherwise, so a new page cannot forget the check.

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

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from . import audit
from .permissions import can_read

V = TypeVar("V", bound=Callable[..., Any])

# Django's own wording (forms' ProhibitNullCharactersValidator), so every layer says the same.
NUL_REFUSED = "Null characters are not allowed."
# The methods any route here offers; anything else (TRACE, CONNECT, made-up ones) is 405 on
# every route before any view runs: function views answer whatever method reaches them, and
# DRF would dispatch TRACE to a viewset method named `trace`.
KNOWN_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def offered_methods(path: str) -> tuple[str, ...]:
    """The methods the route at `path` offers, for the Allow header of a 405 (RFC 9110 wants
    the route's own list). Class-based views (DRF's included) say which; a function view, or a
    path no route matches, gets every method some route offers."""
    try:
        view = resolve(path).func
    except Resolver404:
        return KNOWN_METHODS
    actions = getattr(view, "actions", None)  # a DRF viewset route: {method: action}
    view_class = getattr(view, "view_class", None)
    if actions:
        names = {*actions, "options"}
    elif view_class is not None:
        initkwargs = getattr(view, "view_initkwargs", {})  # as_view(http_method_names=...)
        allowed = initkwargs.get("http_method_names", view_class.http_method_names)
        names = {name for name in allowed if hasattr(view_class, name)}
    else:
        return KNOWN_METHODS
    if "get" in names:
        names.add("head")  # Django and DRF answer HEAD with the GET handler
    return tuple(method for method in KNOWN_METHODS if method.lower() in names)


def _with_nul(query: Any) -> list[str]:
    """The names of the parameters whose name or value holds a NUL character."""
    return [key for key in query if "\x00" in key or any("\x00" in v for v in query.getlist(key))]


def _answer(request: HttpRequest, message: str, status: int) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _refuse_nul(request: HttpRequest, names: list[str]) -> HttpResponse:
    """400; the API names each parameter as it names a field (`{"q": ["Null …"]}`)."""
    if request.path.startswith("/api/"):
        clean = [name for name in names if "\x00" not in name]
        if clean == names:
            return JsonResponse({name: [NUL_REFUSED] for name in names}, status=400)
    return _answer(request, NUL_REFUSED, 400)


def upload_too_large_message() -> str:
    limit = settings.UPLOAD_MAX_BYTES
    shown = f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit} bytes"
    return (
        f"The file is larger than the limit of {shown}. Split the workbook, or send one sheet "
        "at a time as CSV."
    )


def _takes_upload(request: HttpRequest) -> bool:
    """A multipart POST to a view marked `accepts_upload`."""
    if request.method != "POST" or (request.content_type or "") != "multipart/form-data":
        return False
    try:
        view = resolve(request.path_info).func
    except Resolver404:
        return False
    view_class = getattr(view, "view_class", None) or getattr(view, "cls", None)
    return bool(getattr(view, "accepts_upload", False) or getattr(view_class, "accepts_upload", 0))


def _refuse_upload(request: HttpRequest) -> HttpResponse:
    """400 naming the field `file`, before the body is read; a page says it in words."""
    message = upload_too_large_message()
    if request.path.startswith("/api/"):
        return JsonResponse({"file": [message]}, status=400)
    return _answer(request, message, 400)


def accepts_upload(view: V) -> V:
    """Mark a view that takes a file in the multipart field `file`: its body may be as large as
    UPLOAD_MAX_BYTES (plus the usual limit for its other fields), and a larger one is refused
    with a message naming the field. The view checks the file's own size as well."""
    view.accepts_upload = True  # type: ignore[attr-defined]
    return view


class HostileInputMiddleware:
    """405 for a method no route offers (Allow: what this route does offer); 400 for a body
    over DATA_UPLOAD_MAX_MEMORY_SIZE (UPLOAD_MAX_BYTES more for a view that `accepts_upload`)
    and for a NUL character in the query string or a form body
    (JSON bodies are checked by core.parsers.JSONParser); 409 for a write that collided with
    another request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in KNOWN_METHODS:
            response = _answer(request, f'Method "{request.method}" not allowed.', 405)
            response["Allow"] = ", ".join(offered_methods(request.path_info))
            return response
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            if not _takes_upload(request):
                return _answer(
                    request, f"The request body is larger than the limit of {limit} bytes.", 400
                )
            # The file may take UPLOAD_MAX_BYTES, the other fields the usual limit.
            if length > settings.UPLOAD_MAX_BYTES + limit:
                return _refuse_upload(request)
        refused = _with_nul(request.GET)
        content_type = request.content_type or ""
        if not refused and request.method == "POST" and content_type in FORM_TYPES:
            refused = _with_nul(request.POST)
        if refused:
            return _refuse_nul(request, refused)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from .api import write_collision

        message = write_collision(exception)
        return None if message is None else _answer(request, message, 409)


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


class AuditChannelMiddleware:
    """Every write a request makes is recorded (core.audit) as made through its channel — the
    API under /api/, the admin under /admin/, the pages elsewhere — by the request's user (read
    when the entry is written, so an API token DRF checks inside the view counts too)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with audit.recording(channel=audit.channel_for_path(request.path_info), request=request):
            return self.get_response(request)
