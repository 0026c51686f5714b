"""Admin for departments, projects (with links, features, metrics, roadmap, check-ins) and
features (with their links). Saves go through projects.services; the "approve" action is added
by alignment.admin (approval checks the rule catalogue, which `projects` never imports)."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest

from core.admin import (
    ServiceModelAdmin,
    VersionedInline,
    adopt,
    call_service,
    form_fields,
    row_deleted,
    save_inline_through_services,
)
from core.money import format_money
from core.permissions import can_manage_departments, can_manage_user_groups

from . import services
from .models import (
    CRMProject,
    Department,
    Feature,
    FeatureLink,
    MetricReading,
    ProjectCheckIn,
    ProjectDecision,
    ProjectLink,
    ProjectSystem,
    RoadmapPhase,
    SuccessMetric,
    System,
    UserGroup,
)
from .selectors import features_with_trace, projects_with_trace


@admin.register(UserGroup)
class UserGroupAdmin(ServiceModelAdmin):
    list_display = ("name", "description")
    search_fields = ("name",)
    fields = services.USER_GROUP_FIELDS
    service_fields = services.USER_GROUP_FIELDS
    may_manage = staticmethod(can_manage_user_groups)
    id_kwarg = "user_group_id"
    create_service = staticmethod(services.user_group_create)
    update_service = staticmethod(services.user_group_update)
    delete_service = staticmethod(services.user_group_delete)


@admin.register(Department)
class DepartmentAdmin(ServiceModelAdmin):
    list_display = ("name", "is_it")
    list_filter = ("is_it",)
    search_fields = ("name",)
    fields = services.DEPARTMENT_FIELDS
    service_fields = services.DEPARTMENT_FIELDS
    may_manage = staticmethod(can_manage_departments)
    id_kwarg = "department_id"
    create_service = staticmethod(services.department_create)
    update_service = staticmethod(services.department_update)
    delete_service = staticmethod(services.department_delete)


def _save_links(formset: BaseInlineFormSet, *, setter: Any, owner_kwarg: str, actor: Any) -> None:
    """Inline link rows are one set: the service replaces the owner's links at once (by the
    owner's id, `owner_kwarg`, e.g. "project_id")."""
    specs = [
        services.LinkSpec(
            row.cleaned_data["crm_strategy"].pk,
            row.cleaned_data.get("rationale") or "",
            row.cleaned_data.get("weight"),
        )
        for row in formset.forms
        if row.cleaned_data
        and row.cleaned_data.get("crm_strategy") is not None
        and not row_deleted(formset, row)
    ]
    call_service(setter, **{owner_kwarg: formset.instance.pk, "actor": actor, "links": specs})
    formset.new_objects = [row.instance for row in formset.extra_forms if row.has_changed()]
    formset.changed_objects = [
        (row.instance, row.changed_data) for row in formset.initial_forms if row.has_changed()
    ]
    formset.deleted_objects = [
        row.instance for row in formset.deleted_forms if row.instance.pk is not None
    ]


class ProjectLinkInline(admin.TabularInline):
    model = ProjectLink
    extra = 1
    fields = ("crm_strategy", "rationale", "weight")
    autocomplete_fields = ("crm_strategy",)
    verbose_name = "serves CRM strategy"
    verbose_name_plural = "serves CRM strategies (links)"


class FeatureInline(VersionedInline):
    model = Feature
    extra = 0
    fields = ("position", "title", "priority", "status")
    show_change_link = True
    ordering = ("position", "id")


class SuccessMetricInline(VersionedInline):
    model = SuccessMetric
    extra = 0
    fields = services.METRIC_FIELDS


class RoadmapPhaseInline(VersionedInline):
    model = RoadmapPhase
    extra = 0
    fields = services.PHASE_FIELDS


class ProjectCheckInInline(admin.TabularInline):
    """Check-ins are history: new ones can be added, recorded ones are read-only."""

    model = ProjectCheckIn
    extra = 1
    fields = (*services.CHECK_IN_FIELDS, "author")
    readonly_fields = ("author",)
    can_delete = False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _check_in(*, project_id: int, actor: Any, **fields: Any) -> ProjectCheckIn:
    return services.project_check_in(
        project_id=project_id,
        actor=actor,
        summary=fields.get("summary", ""),
        health=fields.get("health") or "on_track",
        checked_in_on=fields.get("checked_in_on"),
    )


# The inline model → (fields, create, update, delete, item id keyword) through the services.
_PROJECT_INLINE_SERVICES: dict[type, tuple[tuple[str, ...], Any, Any, Any, str]] = {
    Feature: (
        services.FEATURE_FIELDS,
        services.feature_create,
        services.feature_update,
        services.feature_delete,
        "feature_id",
    ),
    SuccessMetric: (
        services.METRIC_FIELDS,
        services.metric_create,
        services.metric_update,
        services.metric_delete,
        "metric_id",
    ),
    RoadmapPhase: (
        services.PHASE_FIELDS,
        services.phase_create,
        services.phase_update,
        services.phase_delete,
        "phase_id",
    ),
    ProjectCheckIn: (services.CHECK_IN_FIELDS, _check_in, None, None, "check_in_id"),
}


@admin.register(CRMProject)
class CRMProjectAdmin(ServiceModelAdmin):
    list_display = (
        "title",
        "status",
        "manager",
        "sponsor",
        "department",
        "traceable",
        "features_traced_display",
        "budget_technology_display",
        "budget_capability_display",
        "start_date",
        "end_date",
    )
    list_filter = ("status", "department", "department__is_it", "crm_strategies")
    search_fields = ("title", "description", "manager__username", "sponsor__username")
    autocomplete_fields = ("manager", "sponsor", "business_owner", "department")
    readonly_fields = ("approved_at", "approved_by")
    date_hierarchy = "start_date"
    fieldsets = (
        (None, {"fields": ("title", "description", "status", ("start_date", "end_date"))}),
        ("People", {"fields": ("manager", "sponsor", "department", "business_owner")}),
        (
            "Budget",
            {
                "fields": (
                    "budget_technology",
                    ("budget_people", "budget_process", "budget_training", "budget_incentives"),
                )
            },
        ),
        ("Integration", {"fields": ("integration_notes",)}),
        ("Approval", {"fields": ("approved_at", "approved_by")}),
    )
    inlines = [
        ProjectLinkInline,
        FeatureInline,
        SuccessMetricInline,
        RoadmapPhaseInline,
        ProjectCheckInInline,
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CRMProject]:
        # The traceability annotations come from the same selector the pages use.
        return projects_with_trace()

    @admin.display(description="traceable", boolean=True, ordering="is_traceable")
    def traceable(self, project: Any) -> bool:
        return project.is_traceable

    @admin.display(description="features traced")
    def features_traced_display(self, project: Any) -> str:
        return f"{project.features_traced}/{project.feature_count}"

    @admin.display(description="technology budget", ordering="budget_technology")
    def budget_technology_display(self, project: Any) -> str:
        return format_money(project.budget_technology)

    @admin.display(description="capability budget", ordering="budget_capability_total")
    def budget_capability_display(self, project: Any) -> str:
        return format_money(project.budget_capability_total)

    service_fields = services.PROJECT_FIELDS
    id_kwarg = "project_id"
    create_service = staticmethod(services.project_create)
    update_service = staticmethod(services.project_update)
    delete_service = staticmethod(services.project_delete)

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool
    ) -> None:
        if formset.model is ProjectLink:
            _save_links(
                formset,
                setter=services.project_set_links,
                owner_kwarg="project_id",
                actor=request.user,
            )
            return
        fields, create, update, delete, item_kwarg = _PROJECT_INLINE_SERVICES[formset.model]  # type: ignore[index]
        save_inline_through_services(
            formset,
            actor=request.user,
            fields=fields,
            create=create,
            update=update,
            delete=delete,
            parent_kwarg="project_id",
            item_kwarg=item_kwarg,
        )


class FeatureLinkInline(admin.TabularInline):
    model = FeatureLink
    extra = 1
    fields = ("crm_strategy", "rationale", "weight")
    autocomplete_fields = ("crm_strategy",)
    verbose_name = "serves CRM strategy"
    verbose_name_plural = "serves CRM strategies (links)"


@admin.register(Feature)
class FeatureAdmin(ServiceModelAdmin):
    list_display = ("title", "project", "priority", "status", "position", "traceable")
    list_filter = ("status", "priority", "project__status", "crm_strategies")
    search_fields = ("title", "description", "project__title")
    autocomplete_fields = ("project",)
    fields = ("project", *services.FEATURE_FIELDS)
    inlines = [FeatureLinkInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Feature]:
        return features_with_trace()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # A feature stays in its project (its service does not move features).
        return ("project",) if obj is not None else ()

    @admin.display(description="traceable", boolean=True, ordering="is_traceable")
    def traceable(self, feature: Any) -> bool:
        return feature.is_traceable

    service_fields = services.FEATURE_FIELDS
    id_kwarg = "feature_id"
    parent_fields = ("project",)
    create_service = staticmethod(services.feature_create)
    update_service = staticmethod(services.feature_update)
    delete_service = staticmethod(services.feature_delete)

    def save_model(self, request: HttpRequest, obj: Feature, form: ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        fields = form_fields(form, services.FEATURE_FIELDS, changed_only=False)
        if "position" not in form.changed_data:
            fields.pop("position", None)  # the service appends to the end of the list
        feature = call_service(
            services.feature_create,
            actor=request.user,
            project_id=form.cleaned_data["project"].pk,
            **fields,
        )
        adopt(obj, feature)

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool
    ) -> None:
        _save_links(
            formset,
            setter=services.feature_set_links,
            owner_kwarg="feature_id",
            actor=request.user,
        )


class _ReadOnlyListAdmin(admin.ModelAdmin):
    """Listed for search and audit; edited on their project's or feature's page."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ProjectLink)
class ProjectLinkAdmin(_ReadOnlyListAdmin):
    list_display = ("project", "crm_strategy", "weight", "rationale", "created_at")
    list_filter = ("crm_strategy", "crm_strategy__status", "project__status")
    search_fields = ("project__title", "crm_strategy__title", "rationale")
    list_select_related = ("project", "crm_strategy")


@admin.register(FeatureLink)
class FeatureLinkAdmin(_ReadOnlyListAdmin):
    list_display = ("feature", "project_title", "crm_strategy", "weight", "rationale")
    list_filter = ("crm_strategy", "crm_strategy__status")
    search_fields = ("feature__title", "feature__project__title", "crm_strategy__title")
    list_select_related = ("feature", "feature__project", "crm_strategy")

    @admin.display(description="project", ordering="feature__project__title")
    def project_title(self, link: FeatureLink) -> str:
        return link.feature.project.title


@admin.register(SuccessMetric)
class SuccessMetricAdmin(_ReadOnlyListAdmin):
    list_display = ("name", "project", "unit", "baseline", "target", "current")
    list_filter = ("project__status",)
    search_fields = ("name", "project__title")
    list_select_related = ("project",)


@admin.register(RoadmapPhase)
class RoadmapPhaseAdmin(_ReadOnlyListAdmin):
    list_display = ("name", "project", "kind", "start_date", "end_date", "position")
    list_filter = ("kind", "project__status")
    search_fields = ("name", "project__title")
    list_select_related = ("project",)


@admin.register(ProjectCheckIn)
class ProjectCheckInAdmin(_ReadOnlyListAdmin):
    list_display = ("project", "checked_in_on", "health", "author", "summary")
    list_filter = ("health", "checked_in_on", "project__status")
    search_fields = ("project__title", "summary")
    list_select_related = ("project", "author")
    date_hierarchy = "checked_in_on"


# The integration register and benefits review are written on their pages (projects.register)
# and the API, through the services; the admin lists them.
@admin.register(System)
class SystemAdmin(_ReadOnlyListAdmin):
    list_display = ("name", "owner")
    search_fields = ("name",)
    list_select_related = ("owner",)


@admin.register(ProjectSystem)
class ProjectSystemAdmin(_ReadOnlyListAdmin):
    list_display = ("project", "system", "status", "owner")
    list_filter = ("status",)
    search_fields = ("project__title", "system__name")
    list_select_related = ("project", "system", "owner")


@admin.register(MetricReading)
class MetricReadingAdmin(_ReadOnlyListAdmin):
    list_display = ("metric", "recorded_on", "value", "author")
    search_fields = ("metric__name", "metric__project__title")
    list_select_related = ("metric", "author")
    date_hierarchy = "recorded_on"


@admin.register(ProjectDecision)
class ProjectDecisionAdmin(_ReadOnlyListAdmin):
    """The approval threads: decided on the project's page or through the API, read here."""

    list_display = ("project", "kind", "author", "created_at", "comment")
    list_filter = ("kind", "project__status")
    search_fields = ("project__title", "comment")
    list_select_related = ("project", "author")
    date_hierarchy = "created_at"
