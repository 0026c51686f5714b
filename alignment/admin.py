"""Admin for the engine: rule settings are editable; flags, scans and snapshots are records.
It also gives the projects admin its "approve" action: approval checks the rule catalogue."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ServiceRefused, call_service
from projects.admin import CRMProjectAdmin
from projects.models import APPROVABLE_PROJECT_STATUSES, CRMProject

from .models import Flag, RuleSetting, Scan, Snapshot
from .rules import RULES
from .services import project_approve


@admin.register(RuleSetting)
class RuleSettingAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "title",
        "enabled",
        "severity",
        "threshold",
        "threshold_meaning",
        "window",
        "window_meaning",
        "blocks_approval",
    ]
    list_editable = ["enabled", "severity", "threshold", "window", "blocks_approval"]
    list_filter = ["enabled", "severity", "blocks_approval"]
    search_fields = ["code"]
    readonly_fields = ["code", "title", "advice", "threshold_meaning", "window_meaning"]
    fields = [
        "code",
        "title",
        "advice",
        "enabled",
        "severity",
        "threshold",
        "threshold_meaning",
        "window",
        "window_meaning",
        "blocks_approval",
    ]

    @admin.display(description="rule")
    def title(self, obj: RuleSetting) -> str:
        rule = RULES.get(obj.code)
        return rule.title if rule else "(no longer in the catalogue)"

    @admin.display(description="what the owner is told")
    def advice(self, obj: RuleSetting) -> str:
        rule = RULES.get(obj.code)
        if rule is None:
            return ""
        # As the engine reads it: 0 is a threshold, only an empty one means the default.
        threshold = obj.threshold if obj.threshold is not None else rule.threshold_default
        window = obj.window if obj.window is not None else rule.window_default
        return rule.message(threshold, window)

    @admin.display(description="threshold means")
    def threshold_meaning(self, obj: RuleSetting) -> str:
        rule = RULES.get(obj.code)
        if rule is None or rule.threshold_label is None:
            return "— (this rule has no threshold)"
        return f"{rule.threshold_label} (default {rule.threshold_default})"

    @admin.display(description="window means")
    def window_meaning(self, obj: RuleSetting) -> str:
        rule = RULES.get(obj.code)
        if rule is None or rule.window_label is None:
            return "— (this rule has no window)"
        return f"{rule.window_label} (default {rule.window_default})"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # one row per rule, created by the migration and the engine

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Flag)
class FlagAdmin(admin.ModelAdmin):
    """Read-mostly: scans own a flag's lifecycle; sponsors decide in the app."""

    list_display = ["rule", "subject_label", "subject_type", "severity", "state", "last_seen"]
    list_filter = ["state", "severity", "rule", "subject_type"]
    search_fields = ["subject_label", "rule", "message"]
    date_hierarchy = "first_seen"
    list_select_related = ["project"]
    readonly_fields = [f.name for f in Flag._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # flags are history; a deleted open flag would just reopen at the next scan


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Scan)
class ScanAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "kind",
        "state",
        "created_at",
        "finished_at",
        "attempts",
        "opened",
        "resolved",
        "told_at",
    ]
    list_filter = ["kind", "state"]


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdmin):
    list_display = [
        "taken_at",
        "projects_traced",
        "projects_total",
        "features_traced",
        "features_total",
        "budget_traced",
        "budget_total",
    ]
    date_hierarchy = "taken_at"


# The projects admin, plus approval (projects cannot import the engine that decides it).
admin.site.unregister(CRMProject)


@admin.register(CRMProject)
class ApprovingProjectAdmin(CRMProjectAdmin):
    actions = ["approve_projects"]

    @admin.action(description="Approve the selected projects (as their sponsor)")
    def approve_projects(self, request: HttpRequest, queryset: QuerySet[CRMProject]) -> None:
        approved = 0
        for project in queryset.filter(status__in=APPROVABLE_PROJECT_STATUSES):
            try:
                call_service(project_approve, project_id=project.pk, actor=request.user)
            except ServiceRefused as refused:
                self.message_user(request, f"{project}: {refused.message}", messages.ERROR)
            else:
                approved += 1
        if approved:
            self.message_user(request, f"Approved {approved} project(s).", messages.SUCCESS)
