"""Board-pack jobs and monthly deliveries in the admin: read-only records (the PDF's bytes stay
out of every page)."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import BoardPackDelivery, BoardPackSubscription, ReportJob


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReportJob)
class ReportJobAdmin(ReadOnly):
    list_display = ["id", "created_by", "created_at", "state", "size", "finished_at"]
    list_filter = ["state"]
    list_select_related = ["created_by"]
    exclude = ["pdf"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReportJob]:
        return super().get_queryset(request).defer("pdf")


@admin.register(BoardPackDelivery)
class BoardPackDeliveryAdmin(ReadOnly):
    list_display = ["id", "user", "month", "state", "attempts", "sent_at", "error"]
    list_filter = ["state", "month"]
    list_select_related = ["user"]


@admin.register(BoardPackSubscription)
class BoardPackSubscriptionAdmin(ReadOnly):
    list_display = ["user", "monthly", "updated_at"]
    list_filter = ["monthly"]
    list_select_related = ["user"]
