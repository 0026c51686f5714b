"""Admin for business strategies and CRM strategies; saves go through strategies.services."""

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest

from core.admin import ServiceModelAdmin, adopt, call_service, form_fields, row_deleted

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
    fields = ("goal", "title", "scope", "description", "owner", "status")

    def get_queryset(self, request: HttpRequest) -> QuerySet[BusinessStrategy]:
        return super().get_queryset(request).annotate(_crm=Count("served_by", distinct=True))

    @admin.display(description="served by CRM strategies", ordering="_crm")
    def crm_strategy_count(self, strategy: Any) -> int:
        return strategy._crm

    def save_model(
        self, request: HttpRequest, obj: BusinessStrategy, form: ModelForm, change: bool
    ) -> None:
        fields = services.BUSINESS_STRATEGY_FIELDS
        if change:
            call_service(
                services.business_strategy_update,
                strategy=obj,
                actor=request.user,
                **form_fields(form, fields, changed_only=True),
            )
        else:
            strategy = call_service(
                services.business_strategy_create,
                actor=request.user,
                **form_fields(form, fields, changed_only=False),
            )
            adopt(obj, strategy)

    def delete_model(self, request: HttpRequest, obj: BusinessStrategy) -> None:
        call_service(services.business_strategy_delete, strategy=obj, actor=request.user)


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

    def save_model(
        self, request: HttpRequest, obj: CRMStrategy, form: ModelForm, change: bool
    ) -> None:
        fields = services.CRM_STRATEGY_FIELDS
        if change:
            call_service(
                services.crm_strategy_update,
                strategy=obj,
                actor=request.user,
                **form_fields(form, fields, changed_only=True),
            )
        else:
            strategy = call_service(
                services.crm_strategy_create,
                actor=request.user,
                **form_fields(form, fields, changed_only=False),
            )
            adopt(obj, strategy)

    def delete_model(self, request: HttpRequest, obj: CRMStrategy) -> None:
        call_service(services.crm_strategy_delete, strategy=obj, actor=request.user)

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool
    ) -> None:
        # The inline rows are one set: the service replaces what the strategy serves at once.
        kept = [
            row.cleaned_data["business_strategy"]
            for row in formset.forms
            if row.cleaned_data
            and row.cleaned_data.get("business_strategy") is not None
            and not row_deleted(formset, row)
        ]
        before = set(form.instance.serves.values_list("business_strategy_id", flat=True))
        call_service(
            services.crm_strategy_update,
            strategy=form.instance,
            actor=request.user,
            business_strategies=kept,
        )
        after = {strategy.pk for strategy in kept}
        rows = {row.business_strategy_id: row for row in form.instance.serves.all()}
        formset.new_objects = [rows[pk] for pk in after - before]
        formset.changed_objects = []
        formset.deleted_objects = [
            row.instance for row in formset.deleted_forms if row.instance.pk is not None
        ]
