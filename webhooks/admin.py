"""Webhooks in the admin: admins create and edit them (through webhooks.services; the secret
is shown once, then masked) and read the delivery log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .models import Delivery, Webhook, webhook_event_choices


class WebhookForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=webhook_event_choices, widget=forms.CheckboxSelectMultiple
    )
    secret = forms.CharField(
        required=False,
        help_text="Leave blank to keep the secret (or, for a new webhook, to get a random one). "
        "It is shown once, after saving.",
        widget=forms.PasswordInput(render_value=False),
    )

    class Meta:
        model = Webhook
        fields = ["name", "url", "secret", "events", "format", "is_active"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        checked: dict[str, Any] = {
            key: data[key] for key in ("url", "events", "secret") if key in data
        }
        if self.instance.pk and checked.get("url") == self.instance.url:
            checked.pop("url")
        try:
            services.clean(checked)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return data


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = [
        "name",
        "url",
        "format",
        "is_active",
        "paused_at",
        "consecutive_failures",
        "owner",
    ]
    list_filter = ["is_active", "format"]
    list_select_related = ["owner"]
    search_fields = ["name", "url"]
    readonly_fields = ["secret_hint", "paused_at", "consecutive_failures", "owner", "created_at"]
    actions = ["resume"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def save_model(self, request: HttpRequest, obj: Webhook, form: Any, change: bool) -> None:
        data = {key: form.cleaned_data.get(key) for key in services.EDITABLE}
        if change:
            # The form wrote its values onto `obj` already (a blank secret too): the service
            # edits the stored webhook.
            stored = Webhook.objects.get(pk=obj.pk)
            services.update_webhook(actor=request.user, webhook=stored, **data)
        else:
            created = services.create_webhook(actor=request.user, **data)
            obj.pk = created.pk
            obj.refresh_from_db()
            messages.warning(
                request,
                f"The webhook's secret (shown this once; receivers check signatures with it): "
                f"{created.secret}",
            )

    def delete_model(self, request: HttpRequest, obj: Webhook) -> None:
        services.delete_webhook(actor=request.user, webhook=obj)

    @admin.action(description="Resume the selected webhooks (send what they held)")
    def resume(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        for webhook in queryset:
            services.resume_webhook(actor=request.user, webhook=webhook)
        self.message_user(request, f"Resumed {queryset.count()} webhook(s).")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The delivery log: read-only."""

    list_display = [
        "id",
        "webhook",
        "event_type",
        "status",
        "attempts",
        "response_code",
        "created_at",
        "last_attempt_at",
        "sent_at",
    ]
    list_filter = ["status", "event_type"]
    list_select_related = ["webhook"]
    search_fields = ["event_key", "webhook__name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Delivery._meta.fields]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
