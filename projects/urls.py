from django.urls import path

from . import views

app_name = "projects"
urlpatterns = [
    path("", views.project_list, name="list"),
    path("mine/", views.my_projects, name="mine"),
    path("new/", views.project_create, name="create"),
    path("<int:pk>/", views.project_detail, name="detail"),
    path("<int:pk>/edit/", views.project_edit, name="edit"),
    path("<int:pk>/links/", views.project_links, name="links"),
    path("<int:pk>/resubmit/", views.project_resubmit, name="resubmit"),
    path("<int:pk>/comment/", views.project_comment, name="comment"),
    path("<int:pk>/features/new/", views.feature_create, name="feature_create"),
    path(
        "<int:pk>/metrics/new/",
        views.section_add,
        {"section": "metrics"},
        name="metric_create",
    ),
    path("<int:pk>/phases/new/", views.section_add, {"section": "phases"}, name="phase_create"),
    path(
        "<int:pk>/check-ins/new/",
        views.section_add,
        {"section": "check_ins"},
        name="check_in_create",
    ),
    path("features/<int:pk>/", views.feature_detail, name="feature_detail"),
    path("features/<int:pk>/row/", views.feature_row, name="feature_row"),
    path("features/<int:pk>/edit/", views.feature_edit, name="feature_edit"),
    path("features/<int:pk>/links/", views.feature_links, name="feature_links"),
    path("features/<int:pk>/move/", views.feature_move, name="feature_move"),
    path("features/<int:pk>/delete/", views.feature_delete, name="feature_delete"),
    path("metrics/<int:pk>/edit/", views.metric_edit, name="metric_edit"),
    path("metrics/<int:pk>/delete/", views.metric_delete, name="metric_delete"),
    path("phases/<int:pk>/edit/", views.phase_edit, name="phase_edit"),
    path("phases/<int:pk>/delete/", views.phase_delete, name="phase_delete"),
    path("check-ins/<int:pk>/edit/", views.check_in_edit, name="check_in_edit"),
    path("check-ins/<int:pk>/delete/", views.check_in_delete, name="check_in_delete"),
]
