"""REST API for business and CRM strategies over strategies.services and strategies.selectors."""

from typing import Any

from django.db.models import Prefetch
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated

from core.api_base import (
    IdListField,
    RestoreMixin,
    ServiceViewSet,
    StrategyPermission,
    actor,
    expected_version,
)
from core.services import Version
from goals.health import HealthFields, HealthListSerializer
from goals.models import BusinessGoal

from . import selectors, services
from .filters import BusinessStrategyFilterSet, CRMStrategyFilterSet
from .models import BusinessStrategy, CRMStrategy


class BusinessStrategySerializer(HealthFields, serializers.ModelSerializer):
    """How a goal is reached. `goal` is the link up the chain (a retired goal is refused, when
    creating or when moving the strategy to it). `health` is red, amber or green and
    `health_reasons` say why (see README, Goal health)."""

    goal = serializers.PrimaryKeyRelatedField(queryset=BusinessGoal.objects.all())
    crm_strategy_count = serializers.IntegerField(read_only=True)
    active_crm_strategy_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = BusinessStrategy
        fields = [
            "id",
            *services.BUSINESS_STRATEGY_FIELDS,
            "version",
            "crm_strategy_count",
            "active_crm_strategy_count",
            "health",
            "health_reasons",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["owner", "version", "created_at", "updated_at"]
        list_serializer_class = HealthListSerializer
        health_kind = "business_strategy"
        # (goal, title) uniqueness is checked by the service's full_clean, naming the field.
        validators: list = []

    def create(self, validated_data: dict[str, Any]) -> BusinessStrategy:
        goal = validated_data.pop("goal")
        return services.business_strategy_create(
            actor=actor(self), goal_id=goal.pk, **validated_data
        )

    def update(
        self, instance: BusinessStrategy, validated_data: dict[str, Any]
    ) -> BusinessStrategy:
        return services.business_strategy_update(
            actor=actor(self),
            business_strategy_id=instance.pk,
            changes=validated_data,
            version=expected_version(self),
        )


class BusinessStrategyViewSet(RestoreMixin, ServiceViewSet):
    """Business strategies under goals. Executives write them; one that CRM strategies serve
    cannot be deleted (409 naming them)."""

    serializer_class = BusinessStrategySerializer
    permission_classes = [IsAuthenticated, StrategyPermission]
    filterset_class = BusinessStrategyFilterSet
    search_fields = ["title", "scope"]

    def get_queryset(self) -> Any:
        return self.visible(selectors.business_strategies_with_counts())

    def restore_service(self, actor: Any, pk: Any) -> Any:
        return services.business_strategy_restore(actor=actor, business_strategy_id=pk)

    def delete_service(self, instance: BusinessStrategy, version: Version) -> None:
        services.business_strategy_delete(
            actor=self.request.user, business_strategy_id=instance.pk, version=version
        )


class CRMStrategySerializer(serializers.ModelSerializer):
    """What CRM builds for business strategies. `business_strategies` is the list of ids it
    serves; writing it replaces the whole set (retired ones cannot be added)."""

    business_strategies = IdListField(
        child_relation=serializers.PrimaryKeyRelatedField(queryset=BusinessStrategy.objects.all()),
        required=False,
    )
    is_anchored = serializers.BooleanField(read_only=True)
    business_strategy_count = serializers.IntegerField(read_only=True)
    project_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = CRMStrategy
        fields = [
            "id",
            *services.CRM_STRATEGY_FIELDS,
            services.CRM_STRATEGY_SERVES,
            "version",
            "is_anchored",
            "business_strategy_count",
            "project_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["owner", "version", "created_at", "updated_at"]
        validators: list = []

    def create(self, validated_data: dict[str, Any]) -> CRMStrategy:
        return services.crm_strategy_create(actor=actor(self), **validated_data)

    def update(self, instance: CRMStrategy, validated_data: dict[str, Any]) -> CRMStrategy:
        return services.crm_strategy_update(
            actor=actor(self),
            crm_strategy_id=instance.pk,
            changes=validated_data,
            version=expected_version(self),
        )


class CRMStrategyViewSet(RestoreMixin, ServiceViewSet):
    """CRM strategies and the business strategies they serve. Executives write them; one that
    projects or features link to cannot be deleted (409 naming them)."""

    serializer_class = CRMStrategySerializer
    permission_classes = [IsAuthenticated, StrategyPermission]
    filterset_class = CRMStrategyFilterSet
    search_fields = ["title"]

    def get_queryset(self) -> Any:
        if self.action == "list":
            return self.visible(selectors.crm_strategies_to_list())
        return self.visible(self.page_rows())

    def page_rows(self) -> Any:
        # Anchoring and counts: for the page's strategies only.
        return selectors.crm_strategies_with_trace().prefetch_related(
            Prefetch("business_strategies", queryset=BusinessStrategy.objects.only("id"))
        )

    def restore_service(self, actor: Any, pk: Any) -> Any:
        return services.crm_strategy_restore(actor=actor, crm_strategy_id=pk)

    def delete_service(self, instance: CRMStrategy, version: Version) -> None:
        services.crm_strategy_delete(
            actor=self.request.user, crm_strategy_id=instance.pk, version=version
        )
