"""Sign-in and password-reset pages with a per-address attempt limit.

Django's own views have none, so without it password guessing would simply move from the
throttled API token endpoint to the login form. The count is per client address (as far back in
X-Forwarded-For as API_NUM_PROXIES trusts, like the API), so one guesser cannot lock a user out
of the pages from elsewhere.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import SimpleRateThrottle

from core.throttling import FailOpenThrottleMixin


class PageAttemptThrottle(FailOpenThrottleMixin, SimpleRateThrottle):
    """POSTs per client address to one account page, at LOGIN_THROTTLE (read per request, so
    a changed setting applies at once)."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__()

    def get_rate(self) -> str | None:
        return str(settings.LOGIN_THROTTLE)

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ThrottledFormMixin:
    """Refuse a POST over the limit with the form, a message saying how long to wait, and 429."""

    throttle_scope = ""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        view: Any = self  # a FormView once mixed in
        throttle = PageAttemptThrottle(self.throttle_scope)
        if throttle.allow_request(request, view):  # type: ignore[arg-type]  # reads META only
            return super().post(request, *args, **kwargs)  # type: ignore[misc]
        wait = int(throttle.wait() or 60) + 1
        form = view.get_form()
        form.add_error(None, f"Too many attempts from your address. Try again in {wait} seconds.")
        response = view.render_to_response(view.get_context_data(form=form), status=429)
        response["Retry-After"] = str(wait)
        return response


class LoginView(ThrottledFormMixin, auth_views.LoginView):
    throttle_scope = "login"


class PasswordResetView(ThrottledFormMixin, auth_views.PasswordResetView):
    throttle_scope = "password-reset"
