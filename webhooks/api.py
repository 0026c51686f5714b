"""REST API for webhooks: admins only. Anyone else is refused (403) on the list and on
creating, and finds no webhook by id (404), as if none existed. Writes go through
webhooks.services; the secret is in the answer to the create (or to a change of it) only."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from core import permissions
from core.api_base import ApiViewSet

from . import services
from .filters import WebhookFilterSet
from .models import Delivery, DeliveryStatus, Format, Webhook, webhook_event_choices


class AdminsOnly(BasePermission):
    """Lists and creating: 403 for anyone but an admin. By id: the queryset is empty for
    them, so 404."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if view.action == "history" and not permissions.is_admin(request.user):
            # Not even a deleted webhook's history (ApiViewSet.history shows those to readers).
            if request.user and request.user.is_authenticated:
                raise NotFound
            return False
        if view.detail:
            return bool(request.user and request.user.is_authenticated)
        return permissions.is_admin(request.user)


class WebhookSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=webhook_event_choices()),
        allow_empty=False,
        help_text="Event types to send (the catalogue's, webhook-able ones).",
    )
    format = serializers.ChoiceField(choices=Format.choices, default=Format.JSON)
    # Checked (and resolved) by the service, once, with the messages of webhooks.addresses.
    url = serializers.CharField(
        max_length=500, help_text="Where events are POSTed: an http or https address."
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=128,
        help_text="HMAC key of the signature. Blank or left out on create: a random one, "
        "returned once as `secret` in this answer. Left out or blank on update: unchanged.",
    )
    secret_hint = serializers.CharField(read_only=True, help_text="The secret's last characters.")
    owner = serializers.CharField(source="owner.username", read_only=True)

    class Meta:
        model = Webhook
        fields = [
            "id",
            "name",
            "url",
            "secret",
            "secret_hint",
            "events",
            "format",
            "is_active",
            "paused_at",
            "consecutive_failures",
            "owner",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "paused_at",
            "consecutive_failures",
            "owner",
            "created_at",
            "updated_at",
        ]

    def create(self, validated_data: dict[str, Any]) -> Webhook:
        return services.create_webhook(actor=self.context["request"].user, **validated_data)

    def update(self, instance: Webhook, validated_data: dict[str, Any]) -> Webhook:
        return services.update_webhook(
            actor=self.context["request"].user, webhook=instance, **validated_data
        )


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown this once.")  # type: ignore[assignment]


class DeliverySerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook",
            "event_type",
            "event_key",
            "payload",
            "status",
            "attempts",
            "response_code",
            "error",
            "created_at",
            "next_attempt_at",
            "last_attempt_at",
            "sent_at",
        ]
        read_only_fields = fields


class WebhookViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    """Outgoing webhooks (admins only): each event subscribed is POSTed to the URL as JSON,
    signed with `X-CRM-Alignment-Signature: sha256=<hex HMAC-SHA256 of the body>`."""

    serializer_class = WebhookSerializer
    permission_classes = [AdminsOnly]
    filterset_class = WebhookFilterSet

    def get_queryset(self) -> Any:
        if not permissions.is_admin(self.request.user):
            return Webhook.objects.none()
        return Webhook.objects.select_related("owner")

    @extend_schema(responses={201: WebhookCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook = serializer.save()
        data = WebhookSerializer(webhook, context=self.get_serializer_context()).data
        return Response({**data, "secret": webhook.secret}, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Webhook) -> None:
        services.delete_webhook(actor=self.request.user, webhook=instance)

    @extend_schema(request=None, responses={200: DeliverySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: Any = None) -> Response:
        """The webhook's delivery log, newest first."""
        webhook = self.get_object()
        page = self.paginate_queryset(Delivery.objects.filter(webhook=webhook))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={200: WebhookSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: Any = None) -> Response:
        """Unpause: the failure count starts again and the deliveries held are sent."""
        webhook = self.get_object()
        services.resume_webhook(actor=request.user, webhook=webhook)
        return Response(self.get_serializer(webhook).data)

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer(
                "WebhookTestQueued",
                {
                    "delivery": serializers.IntegerField(),
                    "status": serializers.ChoiceField(choices=DeliveryStatus.choices),
                },
            )
        },
    )
    @action(detail=True, methods=["post"], url_path="test")
    def send_test(self, request: Request, pk: Any = None) -> Response:
        """Send a `webhook.test` event to this webhook alone; follow it in its deliveries."""
        webhook = self.get_object()
        delivery = services.send_test(actor=request.user, webhook=webhook)
        delivery.refresh_from_db(fields=["status"])
        return Response(
            {"delivery": delivery.pk, "status": delivery.status}, status=status.HTTP_202_ACCEPTED
        )
