"""The webhooks list's filters and orderings, through the core FilterSet like every list."""

from __future__ import annotations

from core.filters import BooleanFilter, FilterSet, OrderingFilter

from .models import Webhook


class WebhookFilterSet(FilterSet):
    """Webhooks: active or not; by name, newest or id."""

    is_active = BooleanFilter(field_name="is_active")
    ordering = OrderingFilter(
        orderings={"name": ("name",), "created_at": ("created_at", "id"), "id": ("id",)},
        default="name",
    )

    class Meta:
        model = Webhook
        fields = ["is_active"]
