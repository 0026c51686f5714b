"""REST API for goals and KPIs: thin serializers over goals.services and goals.selectors."""

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_base import (
    ApiViewSet,
    RestoreMixin,
    ServiceViewSet,
    StrategyPermission,
    actor,
    etag,
    expected_version,
    if_match,
)
from core.services import Version

from . import selectors, services
from .filters import GoalFilterSet, KPIFilterSet
from .health import HealthFields, HealthListSerializer
from .models import KPI, BusinessGoal, KPICheckIn


class GoalSerializer(HealthFields, serializers.ModelSerializer):
    """A business goal. `owner` is whoever created it (set by the service, not the client).
    `health` is red, amber or green and `health_reasons` say why (see README, Goal health)."""

    business_strategy_count = serializers.IntegerField(read_only=True)
    active_business_strategy_count = serializers.IntegerField(read_only=True)
    kpi_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = BusinessGoal
        fields = [
            "id",
            *services.GOAL_FIELDS,
            "version",
            "business_strategy_count",
            "active_business_strategy_count",
            "kpi_count",
            "health",
            "health_reasons",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["owner", "version", "created_at", "updated_at"]
        list_serializer_class = HealthListSerializer
        health_kind = "goal"

    def create(self, validated_data: dict[str, Any]) -> BusinessGoal:
        return services.goal_create(actor=actor(self), **validated_data)

    def update(self, instance: BusinessGoal, validated_data: dict[str, Any]) -> BusinessGoal:
        return services.goal_update(
            actor=actor(self),
            goal_id=instance.pk,
            changes=validated_data,
            version=expected_version(self),
        )


class GoalViewSet(RestoreMixin, ServiceViewSet):
    """Business goals. Executives create and change them; a goal with strategies under it cannot
    be deleted (409 naming them) — retire it by status instead."""

    serializer_class = GoalSerializer
    permission_classes = [IsAuthenticated, StrategyPermission]
    filterset_class = GoalFilterSet
    search_fields = ["title"]

    def get_queryset(self) -> Any:
        return self.visible(selectors.goals_with_counts())

    def restore_service(self, actor: Any, pk: Any) -> Any:
        return services.goal_restore(actor=actor, goal_id=pk)

    def delete_service(self, instance: BusinessGoal, version: Version) -> None:
        services.goal_delete(actor=self.request.user, goal_id=instance.pk, version=version)


class KPICheckInSerializer(serializers.ModelSerializer):
    """One reading of a KPI; recording it moves the KPI's `current` value. Corrected or deleted
    at /api/kpi-readings/{id}/ (the KPI's `current` follows its newest reading)."""

    class Meta:
        model = KPICheckIn
        fields = [
            "id",
            "kpi",
            "value",
            "recorded_on",
            "note",
            "recorded_by",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["kpi", "recorded_by", "version", "created_at", "updated_at"]

    def update(self, instance: KPICheckIn, validated_data: dict[str, Any]) -> KPICheckIn:
        return services.kpi_reading_update(
            actor=actor(self),
            reading_id=instance.pk,
            changes=validated_data,
            version=expected_version(self),
        )


class KPISerializer(serializers.ModelSerializer):
    """A KPI of a goal. `goal` is set on create and cannot change; `current` follows check-ins
    but may also be set directly."""

    goal = serializers.PrimaryKeyRelatedField(queryset=BusinessGoal.objects.all())
    progress_percent = serializers.IntegerField(read_only=True, allow_null=True)
    check_ins = KPICheckInSerializer(many=True, read_only=True)

    class Meta:
        model = KPI
        fields = [
            "id",
            "goal",
            *services.KPI_FIELDS,
            "version",
            "progress_percent",
            "check_ins",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["version", "created_at", "updated_at"]
        # Uniqueness per goal and target vs baseline are checked by the service (full_clean).
        validators: list = []

    def validate_goal(self, goal: BusinessGoal) -> BusinessGoal:
        if self.instance is not None and goal.pk != self.instance.goal_id:
            raise serializers.ValidationError("A KPI cannot move to another goal.")
        return goal

    def create(self, validated_data: dict[str, Any]) -> KPI:
        goal = validated_data.pop("goal")
        return services.kpi_create(actor=actor(self), goal_id=goal.pk, **validated_data)

    def update(self, instance: KPI, validated_data: dict[str, Any]) -> KPI:
        validated_data.pop("goal", None)
        return services.kpi_update(
            actor=actor(self),
            kpi_id=instance.pk,
            changes=validated_data,
            version=expected_version(self),
        )


class KPIViewSet(ServiceViewSet):
    """KPIs of goals, each with its check-in history. Executives write them."""

    serializer_class = KPISerializer
    permission_classes = [IsAuthenticated, StrategyPermission]
    filterset_class = KPIFilterSet
    if_match_handlers = (*ServiceViewSet.if_match_handlers, "check_in")
    search_fields = ["name"]

    def get_queryset(self) -> Any:
        return self.visible(selectors.kpis_with_history())

    def delete_service(self, instance: KPI, version: Version) -> None:
        services.kpi_delete(actor=self.request.user, kpi_id=instance.pk, version=version)

    @extend_schema(request=KPICheckInSerializer, responses={201: KPICheckInSerializer})
    @action(detail=True, methods=["post"], url_path="check-ins")
    def check_in(self, request: Request, pk: str | None = None) -> Response:
        """Record a reading of the KPI."""
        kpi = self.get_object()
        data = KPICheckInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        check_in = services.kpi_check_in(
            actor=request.user,
            kpi_id=kpi.pk,
            version=self.expected_version(),
            **data.validated_data,
        )
        # The reading moved the KPI's current value: answer with the KPI's new ETag.
        self._etag_object = KPI.objects.get(pk=kpi.pk)
        return Response(KPICheckInSerializer(check_in).data, status=status.HTTP_201_CREATED)


class KPIReadingViewSet(
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    """One KPI reading: read it, correct it (PUT/PATCH) or delete it (executives, admins), with
    If-Match like every other write. Readings are recorded at /api/kpis/{id}/check-ins/."""

    serializer_class = KPICheckInSerializer
    permission_classes = [IsAuthenticated, StrategyPermission]
    if_match_handlers = ("update", "partial_update", "destroy")

    def get_queryset(self) -> Any:
        return self.visible(KPICheckIn.objects.all())

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if self.request is not None and self.request.method not in SAFE_METHODS:
            context["version"] = if_match(self.request)
        return context

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        reading = self.get_object()
        return Response(self.get_serializer(reading).data, headers={"ETag": etag(reading) or ""})

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            serializer.save()

    def perform_destroy(self, instance: KPICheckIn) -> None:
        with transaction.atomic():
            services.kpi_reading_delete(
                actor=self.request.user, reading_id=instance.pk, version=if_match(self.request)
            )
