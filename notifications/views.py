"""Pages: the person's notifications (mark read, all read, open the subject), their
preferences, and the one-click unsubscribe of the mails (public, signed token)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core import signing
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from core import events
from core.middleware import public, signed_in

from . import services
from .forms import PreferencesForm
from .models import Notification

PAGE_SIZE = 25


@signed_in
@require_http_methods(["GET", "HEAD"])
def notification_list(request: HttpRequest) -> HttpResponse:
    """The person's notifications, newest first, 25 a page: two queries (count and page)."""
    user: Any = request.user  # signed in (@signed_in)
    rows = Notification.objects.filter(user=user).select_related("event")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "notifications/list.html", {"page_obj": page, "labels": events.CATALOGUE}
    )


@signed_in
@require_POST
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one read and go to its subject (or back to the list with `next=list`)."""
    notification = services.mark_read(user=request.user, notification_id=pk)
    path = notification.event.path
    if request.POST.get("next") == "list" or not url_has_allowed_host_and_scheme(
        path, allowed_hosts=None
    ):
        return redirect("notifications:list")
    return redirect(path)


@signed_in
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    count = services.mark_all_read(user=request.user)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("notifications:list")


@signed_in
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    current = services.current_preferences(user)
    form = PreferencesForm(
        request.POST if request.method == "POST" else None, initial_channels=current
    )
    if request.method == "POST" and form.is_valid():
        changed = services.set_preferences(user=user, choices=form.cleaned_data)
        messages.success(request, f"Saved: {changed} choice{'s' if changed != 1 else ''} changed.")
        return redirect("notifications:preferences")
    return render(
        request,
        "notifications/preferences.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@public
@csrf_exempt  # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" with no cookie
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a page with one button (a link scanner's GET changes nothing); POST: unsubscribe,
    from the button or from the mail client's one-click. Works without signing in."""
    try:
        _user_id, event_type = services.read_unsubscribe_token(token)
    except signing.BadSignature:
        return render(request, "notifications/unsubscribe.html", {"invalid": True}, status=400)
    label = (
        "the weekly digest"
        if event_type not in events.CATALOGUE
        else f"“{events.CATALOGUE[event_type].label}” mails"
    )
    if request.method == "POST":
        try:
            services.unsubscribe(token=token)
        except signing.BadSignature:
            return render(request, "notifications/unsubscribe.html", {"invalid": True}, status=400)
        return render(request, "notifications/unsubscribe.html", {"done": True, "what": label})
    return render(request, "notifications/unsubscribe.html", {"what": label})
