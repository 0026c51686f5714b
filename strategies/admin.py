"""Admin for business strategies and CRM strategies; saves go through strategies.services."""

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest

from core.admin import ServiceModelAdmin, call_service, row_deleted

from . import services
from .models import BusinessStrategy, CRMStrategy, CRMStrategyServes
from .trace import anchored_crm_strategy_exists


@admin.register(BusinessStrategy)
class BusinessStrategyAdmin(ServiceModelAdmin):
    list_display = ("title", "goal", "scope", "status", "owner", "crm_strategy_count")
    list_filter = ("status", "goal__status", "goal")
    search_fields = ("title", "description", "scope", "goal__title")
    list_select_related = ("goal", "owner")
    autocomplete_fields = ("goal", "owner")
    fields = services.BUSINESS_STRATEGY_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[BusinessStrategy]:
        return super().get_queryset(request).annotate(_crm=Count("served_by", distinct=True))

    @admin.display(description="served by CRM strategies", ordering="_crm")
    def crm_strategy_count(self, strategy: Any) -> int:
        return strategy._crm

    service_fields = services.BUSINESS_STRATEGY_FIELDS
    id_kwarg = "business_strategy_id"
    parent_fields = ("goal",)
    create_service = staticmethod(services.business_strategy_create)
    update_service = staticmethod(services.business_strategy_update)
    delete_service = staticmethod(services.business_strategy_delete)


class ServesInline(admin.TabularInline):
    """The business strategies this CRM strategy serves (saved as one set by the service)."""

    model = CRMStrategyServes
    extra = 1
    fields = ("business_strategy",)
    autocomplete_fields = ("business_strategy",)
    verbose_name = "serves business strategy"
    verbose_name_plural = "serves business strategies"


@admin.register(CRMStrategy)
class CRMStrategyAdmin(ServiceModelAdmin):
    list_display = (
        "title",
        "status",
        "owner",
        "is_anchored",
        "business_strategy_count",
        "project_count",
    )
    list_filter = ("status", "serves__business_strategy__goal")
    search_fields = ("title", "description", "customer_need")
    list_select_related = ("owner",)
    autocomplete_fields = ("owner",)
    fieldsets = (
        (None, {"fields": ("title", "description", "customer_need", "owner", "status")}),
        (
            "Capabilities it builds",
            {"fields": ("capability_people", "capability_process", "capability_technology")},
        ),
    )
    inlines = [ServesInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CRMStrategy]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _anchored=anchored_crm_strategy_exists(),
                _serves=Count("serves", distinct=True),
                _projects=Count("project_links", distinct=True),
            )
        )

    @admin.display(description="anchored", boolean=True, ordering="_anchored")
    def is_anchored(self, strategy: Any) -> bool:
        return strategy._anchored

    @admin.display(description="business strategies", ordering="_serves")
    def business_strategy_count(self, strategy: Any) -> int:
        return strategy._serves

    @admin.display(description="projects", ordering="_projects")
    def project_count(self, strategy: Any) -> int:
        return strategy._projects

    service_fields = services.CRM_STRATEGY_FIELDS
    id_kwarg = "crm_strategy_id"
    create_service = staticmethod(services.crm_strategy_create)
    update_service = staticmethod(services.crm_strategy_update)
    delete_service = staticmethod(services.crm_strategy_delete)

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool
    ) -> None:
        # The inline rows are one set: the service replaces what the strategy serves at once.
        kept = [
            row.cleaned_data["business_strategy"].pk
            for row in formset.forms
            if row.cleaned_data
            and row.cleaned_data.get("business_strategy") is not None
            and not row_deleted(formset, row)
        ]
        before = set(form.instance.serves.values_list("business_strategy_id", flat=True))
        call_service(
            services.crm_strategy_update,
            actor=request.user,
            crm_strategy_id=form.instance.pk,
            changes={services.CRM_STRATEGY_SERVES: kept},
        )
        rows = {row.business_strategy_id: row for row in form.instance.serves.all()}
        formset.new_objects = [rows[pk] for pk in set(kept) - before]
        formset.changed_objects = []
        formset.deleted_objects = [
            row.instance for row in formset.deleted_forms if row.instance.pk is not None
        ]
