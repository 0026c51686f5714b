from django.urls import path

from . import views

app_name = "goals"
urlpatterns = [
    path("", views.goal_list, name="list"),
    path("new/", views.goal_create, name="create"),
    path("<int:pk>/", views.goal_detail, name="detail"),
    path("<int:pk>/edit/", views.goal_edit, name="edit"),
    path("<int:pk>/retire/", views.goal_retire, name="retire"),
    path("<int:pk>/kpis/new/", views.kpi_create, name="kpi_create"),
    path("kpis/<int:pk>/edit/", views.kpi_edit, name="kpi_edit"),
    path("kpis/<int:pk>/delete/", views.kpi_delete, name="kpi_delete"),
    path("kpis/<int:pk>/readings/", views.kpi_check_in, name="kpi_check_in"),
    path("readings/<int:pk>/edit/", views.kpi_reading_edit, name="kpi_reading_edit"),
    path("readings/<int:pk>/delete/", views.kpi_reading_delete, name="kpi_reading_delete"),
]
