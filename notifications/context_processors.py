"""The bell's unread count on every page: one indexed count (the partial index of unread
rows), read only when a page shows it."""

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .models import Notification


def unread(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "unread_notifications": SimpleLazyObject(
            lambda: Notification.objects.filter(user=user, read_at__isnull=True).count()
        )
    }
