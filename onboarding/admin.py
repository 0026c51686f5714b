"""Import jobs in the admin: a record of who imported what, read-only (the file's bytes stay out
of every page)."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "filename",
        "created_by",
        "created_at",
        "dry_run",
        "state",
        "progress_done",
        "progress_total",
        "errors_total",
        "finished_at",
    ]
    list_filter = ["state", "dry_run"]
    list_select_related = ["created_by"]
    search_fields = ["filename", "created_by__username"]
    exclude = ["content"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ImportJob]:
        return super().get_queryset(request).defer("content")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in ImportJob._meta.fields if field.name != "content"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
