"""REST API for business and CRM strategies over strategies.services and strategies.selectors."""

from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated

from core.api_base import ServiceViewSet, StrategyPermission, actor, expected_version
from goals.models import BusinessGoal

from . import selectors, services
from .models import BusinessStrategy, CRMStrategy, StrategyStatus

User = get_user_model()


class BusinessStrategySerializer(serializers.ModelSerializer):
    """How a goal is reached. `goal` is the link up the chain (a retired goal is refused, when
    creating or when moving the strategy to it)."""

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
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["owner", "version", "created_at", "updated_at"]
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


class BusinessStrategyFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=StrategyStatus.choices)
    owner = django_filters.ModelChoiceFilter(queryset=User.objects.all())
    goal = django_filters.ModelChoiceFilter(queryset=BusinessGoal.objects.all())

    class Meta:
        model = BusinessStrategy
        fields = ["status", "owner", "goal"]


class BusinessStrategyViewSet(ServiceViewSet):
    """Business strategies under goals. Executives write them; one that CRM strategies serve
    cannot be deleted (409 naming them)."""

    serializer_class = BusinessStrategySerializer
    permission_classes = [IsAuthenticated, StrategyPermission]
    filterset_class = BusinessStrategyFilter
    search_fields = ["title", "scope"]
    ordering_fields = ["id", "title", "status", "created_at", "updated_at"]
    ordering = ["goal_id", "title"]

    def get_queryset(self) -> Any:
        return self.visible(selectors.business_strategies_with_counts())

    def delete_service(self, instance: BusinessStrategy, version: int | None) -> None:
        services.business_strategy_delete(
            actor=self.request.user, business_strategy_id=instance.pk, version=version
        )


class CRMStrategySerializer(serializers.ModelSerializer):
    """What CRM builds for business strategies. `business_strategies` is the list of ids it
    serves; writing it replaces the whole set (retired ones cannot be added)."""

    business_strategies = serializers.PrimaryKeyRelatedField(
        many=True, queryset=BusinessStrategy.objects.all(), required=False
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


class CRMStrategyFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=StrategyStatus.choices)
    owner = django_filters.ModelChoiceFilter(queryset=User.objects.all())
    business_strategy = django_filters.ModelChoiceFilter(
        field_name="serves__business_strategy",
        queryset=BusinessStrategy.objects.all(),
        distinct=True,
    )
    goal = django_filters.ModelChoiceFilter(
        field_name="serves__business_strategy__goal",
        queryset=BusinessGoal.objects.all(),
        distinct=True,
    )
    is_anchored = django_filters.BooleanFilter()

    class Meta:
        model = CRMStrategy
        fields = ["status", "owner", "business_strategy", "goal", "is_anchored"]


class CRMStrategyViewSet(ServiceViewSet):
    """CRM strategies and the business strategies they serve. Executives write them; one that
    projects or features link to cannot be deleted (409 naming them)."""

    serializer_class = CRMStrategySerializer
    permission_classes = [IsAuthenticated, StrategyPermission]
    filterset_class = CRMStrategyFilter
    search_fields = ["title"]
    ordering_fields = ["id", "title", "status", "created_at", "updated_at"]
    ordering = ["title"]

    def get_queryset(self) -> Any:
        return self.visible(
            selectors.crm_strategies_with_trace().prefetch_related(
                Prefetch("business_strategies", queryset=BusinessStrategy.objects.only("id"))
            )
        )

    def delete_service(self, instance: CRMStrategy, version: int | None) -> None:
        services.crm_strategy_delete(
            actor=self.request.user, crm_strategy_id=instance.pk, version=version
        )
