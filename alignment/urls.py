"""The sponsor's pages: dashboard, strategy map, traceability matrix, flag inbox, partials."""

from django.urls import path

from . import views

app_name = "alignment"
urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("scan/", views.scan_start, name="scan"),
    path("map/", views.map_view, name="map"),
    path("matrix/", views.matrix_view, name="matrix"),
    path("flags/", views.flag_list, name="flags"),
    path("flags/<int:pk>/acknowledge/", views.flag_acknowledge_view, name="flag_acknowledge"),
    path("flags/<int:pk>/waive/", views.flag_waive_view, name="flag_waive"),
    path("projects/<int:pk>/flags/", views.project_flags, name="project_flags"),
]
