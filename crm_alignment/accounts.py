"""Sign-in lockout glue for django-axes, and the password-reset page's per-address limit.

Every sign-in path (page login, /admin/login/, POST /api/auth/token/) calls authenticate(),
where the axes backend refuses a locked-out username or address; axes counts the failures in
the database. These functions tell axes which address and username a request is about, and
answer a lockout with a message that says how long to wait.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from rest_framework.throttling import SimpleRateThrottle

from core import tokens
from core.middleware import signed_in
from core.throttling import FailOpenThrottleMixin

logger = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str | None:
    """The client's address as the API's throttles see it: REMOTE_ADDR with no trusted proxy,
    else the address API_NUM_PROXIES proxies back in X-Forwarded-For (the client writes the
    part of that header before it, so that part is never trusted)."""
    remote = request.META.get("REMOTE_ADDR")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    proxies = settings.API_NUM_PROXIES
    if proxies and forwarded:
        addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
        if addresses:
            return addresses[-min(proxies, len(addresses))]
    return remote


def normal_username(username: object) -> str | None:
    """Case and surrounding blanks folded, so variants of one name share one count."""
    if not isinstance(username, str) or not username.strip():
        return None
    return username.strip().casefold()[:255]


def attempted_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The username an attempt is about: the credentials passed to authenticate(), else the
    form's field (axes calls this for both)."""
    if credentials and credentials.get("username") is not None:
        return normal_username(credentials.get("username"))
    return normal_username(request.POST.get("username"))


def cooloff_seconds() -> int:
    """How long a lockout lasts. Each failure during a lockout restarts it, and the response to
    that failure is the one that says so, so the whole cool-off is the wait."""
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_message() -> str:
    minutes = max(1, round(cooloff_seconds() / 60))
    return (
        "Too many failed sign-in attempts for this account or from your address. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any = None
) -> HttpResponse:
    """axes' lockout answer: 429 with Retry-After; JSON under /api/, else a page."""
    message = lockout_message()
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(cooloff_seconds())
    return response


class LoginView(auth_views.LoginView):
    """Django's login page; axes refuses locked-out attempts (see the module docstring)."""


class PasswordResetThrottle(FailOpenThrottleMixin, SimpleRateThrottle):
    """Reset requests per client address, at PASSWORD_RESET_THROTTLE (read per request, so a
    changed setting applies at once). A reset request has no password to fail, so axes cannot
    count it; this keeps the page from being used to flood mailboxes."""

    scope = "password-reset"

    def get_rate(self) -> str | None:
        return str(settings.PASSWORD_RESET_THROTTLE)

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset page with a per-address limit that fails open: when the cache is down the
    request goes through (and a warning is logged) rather than nobody being able to reset."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        throttle = PasswordResetThrottle()
        if throttle.allow_request(request, self):  # fails open when the cache is down
            return super().post(request, *args, **kwargs)
        wait = int(throttle.wait() or 60) + 1
        form = self.get_form()
        form.add_error(None, f"Too many attempts from your address. Try again in {wait} seconds.")
        response = self.render_to_response(self.get_context_data(form=form), status=429)
        response["Retry-After"] = str(wait)
        return response


def waiting_for_first_password(user: Any) -> bool:
    """An account made by a spreadsheet import for someone it named: inactive, never signed in,
    no password yet."""
    return not user.is_active and user.last_login is None and not user.has_usable_password()


class InvitationView(auth_views.PasswordResetConfirmView):
    """The link an import mails to each person it created: they choose a password, and the
    account, inactive until then, becomes active. The link is Django's password-reset token, so
    it works once and expires after PASSWORD_RESET_TIMEOUT. Only an account still waiting for its
    first password is activated here; one that has been used and then deactivated stays so."""

    def form_valid(self, form: Any) -> HttpResponse:
        activate = waiting_for_first_password(form.user)
        response = super().form_valid(form)  # saves the password
        if activate:
            form.user.is_active = True
            form.user.save(update_fields=["is_active"])
        return response


@signed_in
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The signed-in user's API tokens (created, expiry, the first characters of the key) and
    a button per token (POST `token_key`) or for all of them (POST `all`) to revoke it."""
    user: Any = request.user  # signed in (@signed_in)
    if request.method == "POST":
        if request.POST.get("all"):
            count = tokens.revoke_all_tokens(user)
        else:
            count = tokens.revoke_token(user, str(request.POST.get("token_key", ""))[:25])
        messages.success(request, f"Revoked {count} token{'s' if count != 1 else ''}.")
        return redirect("api_tokens")
    return render(
        request,
        "registration/api_tokens.html",
        {"tokens": list(tokens.tokens_of(user)), "ttl_days": settings.API_TOKEN_TTL},
    )
