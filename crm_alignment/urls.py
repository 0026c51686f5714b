"""Top-level URLs: pages per app, the API under /api/, the admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("crm_alignment.api_urls")),
    # alignment/… pages, and /projects/<id>/approve/ (approval is the engine's decision)
    path("", include("alignment.urls")),
    path("goals/", include("goals.urls")),
    path("strategies/", include("strategies.urls")),
    path("projects/", include("projects.urls")),
    # The spreadsheet: /import/… (upload, jobs, template, demo) and /export/… (workbook, CSV).
    path("", include("onboarding.urls")),
    path("", include("reports.urls")),
    # The bell's list, preferences, and the mails' one-click unsubscribe.
    path("notifications/", include("notifications.urls")),
    path("", include("crm_alignment.web_urls")),
]
