from django.contrib import admin

from .models import EventRecord, MailDelivery, Notification, Preference


@admin.register(EventRecord)
class EventRecordAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "type", "severity", "summary")
    list_filter = ("type", "severity")
    search_fields = ("key", "summary")
    readonly_fields = [f.name for f in EventRecord._meta.fields]


@admin.register(MailDelivery)
class MailDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: what was mailed to whom, and what happened."""

    list_display = ("created_at", "kind", "user", "state", "attempts", "sent_at", "error")
    list_filter = ("kind", "state")
    list_select_related = ("user",)
    raw_id_fields = ("user", "event", "digest")
    readonly_fields = [f.name for f in MailDelivery._meta.fields]


admin.site.register(
    Notification,
    list_display=("created_at", "user", "event", "read_at"),
    raw_id_fields=("user", "event"),
)
admin.site.register(
    Preference, list_display=("user", "event_type", "channel"), raw_id_fields=("user",)
)
