"""The sponsor's pages: dashboard, strategy map, traceability matrix, flag inbox, partials; and
a project's approval, which keeps its address under /projects/ (the root includes this module
at "/", so it spells out both prefixes)."""

from django.urls import include, path

from . import change_views, views

app_name = "alignment"

_pages = [
    path("", views.dashboard_view, name="dashboard"),
    path("scan/", views.scan_start, name="scan"),
    path("scans/<int:pk>/status/", views.scan_status, name="scan_status"),
    path("map/", views.map_view, name="map"),
    path("map/flow/", views.map_flow_view, name="map_flow"),
    # A branch of the map: its children, as a page or (for htmx) a fragment of the tree.
    path("map/goals/<int:pk>/", views.map_goal, name="map_goal"),
    path(
        "map/business-strategies/<int:pk>/",
        views.map_business_strategy,
        name="map_business_strategy",
    ),
    path("map/crm-strategies/<int:pk>/", views.map_crm_strategy, name="map_crm_strategy"),
    path("map/projects/<int:pk>/", views.map_project, name="map_project"),
    path("map/not-traced/", views.map_not_traced, name="map_not_traced"),
    path(
        "map/not-traced/features/",
        views.map_not_traced_features,
        name="map_not_traced_features",
    ),
    path("matrix/", views.matrix_view, name="matrix"),
    path("flags/", views.flag_list, name="flags"),
    path("flags/bulk/", views.flag_bulk_view, name="flag_bulk"),
    path("flags/<int:pk>/acknowledge/", views.flag_acknowledge_view, name="flag_acknowledge"),
    path("flags/<int:pk>/waive/", views.flag_waive_view, name="flag_waive"),
    path("projects/<int:pk>/flags/", views.project_flags, name="project_flags"),
    path("projects/<int:pk>/readiness/", views.project_readiness, name="project_readiness"),
    # A change that can break or mend chains, with its impact, then confirmed (change_views).
    path(
        "changes/goals/<int:pk>/<slug:change>/",
        change_views.change_view,
        {"kind": "goal"},
        name="change_goal",
    ),
    path(
        "changes/business-strategies/<int:pk>/<slug:change>/",
        change_views.change_view,
        {"kind": "business_strategy"},
        name="change_business_strategy",
    ),
    path(
        "changes/crm-strategies/<int:pk>/<slug:change>/",
        change_views.change_view,
        {"kind": "crm_strategy"},
        name="change_crm_strategy",
    ),
    path(
        "changes/projects/<int:pk>/<slug:change>/",
        change_views.change_view,
        {"kind": "project"},
        name="change_project",
    ),
]

urlpatterns = [
    path("alignment/", include(_pages)),
    # Approval is the engine's decision (readiness is the rule catalogue), at the project's
    # own address.
    path("projects/<int:pk>/approve/", views.project_approve_view, name="project_approve"),
    path("projects/<int:pk>/reject/", views.project_reject_view, name="project_reject"),
    path("projects/<int:pk>/send-back/", views.project_send_back_view, name="project_send_back"),
]
