"""Admin for goals, their KPIs and KPI readings; saves go through goals.services."""

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest

from core.admin import (
    ServiceModelAdmin,
    VersionedInline,
    save_inline_through_services,
)

from . import services
from .models import KPI, BusinessGoal, KPICheckIn


class KPIInline(VersionedInline):
    model = KPI
    extra = 0
    fields = services.KPI_FIELDS
    show_change_link = True


@admin.register(BusinessGoal)
class BusinessGoalAdmin(ServiceModelAdmin):
    list_display = (
        "title",
        "status",
        "priority",
        "owner",
        "horizon_start",
        "horizon_end",
        "strategy_count",
        "kpi_count",
    )
    list_filter = ("status", "priority")
    search_fields = ("title", "description", "owner__username", "owner__last_name")
    list_select_related = ("owner",)
    autocomplete_fields = ("owner",)
    fields = services.GOAL_FIELDS
    inlines = [KPIInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[BusinessGoal]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _strategies=Count("business_strategies", distinct=True),
                _kpis=Count("kpis", distinct=True),
            )
        )

    @admin.display(description="business strategies", ordering="_strategies")
    def strategy_count(self, goal: Any) -> int:
        return goal._strategies

    @admin.display(description="KPIs", ordering="_kpis")
    def kpi_count(self, goal: Any) -> int:
        return goal._kpis

    service_fields = services.GOAL_FIELDS
    id_kwarg = "goal_id"
    create_service = staticmethod(services.goal_create)
    update_service = staticmethod(services.goal_update)
    delete_service = staticmethod(services.goal_delete)

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool
    ) -> None:
        save_inline_through_services(
            formset,
            actor=request.user,
            fields=services.KPI_FIELDS,
            create=services.kpi_create,
            update=services.kpi_update,
            delete=services.kpi_delete,
            parent_kwarg="goal_id",
            item_kwarg="kpi_id",
        )


class KPICheckInInline(admin.TabularInline):
    """Readings are history: new ones can be added, recorded ones are read-only."""

    model = KPICheckIn
    extra = 1
    fields = ("recorded_on", "value", "note", "recorded_by")
    readonly_fields = ("recorded_by",)
    can_delete = False
    ordering = ("-recorded_on", "-id")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(KPI)
class KPIAdmin(ServiceModelAdmin):
    list_display = (
        "name",
        "goal",
        "unit",
        "direction",
        "baseline",
        "target",
        "current",
        "due_date",
    )
    list_filter = ("direction", "goal__status", "goal")
    search_fields = ("name", "goal__title")
    list_select_related = ("goal",)
    autocomplete_fields = ("goal",)
    fields = ("goal", *services.KPI_FIELDS)
    inlines = [KPICheckInInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The goal is fixed once the KPI exists (its service does not move KPIs between goals).
        return ("goal",) if obj is not None else ()

    service_fields = services.KPI_FIELDS
    id_kwarg = "kpi_id"
    parent_fields = ("goal",)
    create_service = staticmethod(services.kpi_create)
    update_service = staticmethod(services.kpi_update)
    delete_service = staticmethod(services.kpi_delete)

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool
    ) -> None:
        def check_in(*, kpi_id: int, actor: Any, **fields: Any) -> KPICheckIn:
            return services.kpi_check_in(
                kpi_id=kpi_id,
                actor=actor,
                value=fields["value"],
                recorded_on=fields["recorded_on"],
                note=fields.get("note", ""),
            )

        save_inline_through_services(
            formset,
            actor=request.user,
            fields=("value", "recorded_on", "note"),
            create=check_in,
            update=None,
            delete=None,
            parent_kwarg="kpi_id",
            item_kwarg="check_in_id",
        )


@admin.register(KPICheckIn)
class KPICheckInAdmin(admin.ModelAdmin):
    """Readings listed for audit; record new ones on the KPI page (the KPI's current follows)."""

    list_display = ("kpi", "value", "recorded_on", "recorded_by", "created_at")
    list_filter = ("recorded_on", "kpi__goal")
    search_fields = ("kpi__name", "kpi__goal__title", "note")
    list_select_related = ("kpi", "kpi__goal", "recorded_by")
    date_hierarchy = "recorded_on"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
