from django.urls import path

from . import views

app_name = "strategies"
urlpatterns = [
    path("", views.crm_list, name="list"),
    path("crm/new/", views.crm_create, name="crm_create"),
    path("crm/<int:pk>/", views.crm_detail, name="crm_detail"),
    path("crm/<int:pk>/edit/", views.crm_edit, name="crm_edit"),
    path("crm/<int:pk>/retire/", views.crm_retire, name="crm_retire"),
    path("business/", views.business_list, name="business_list"),
    path("business/new/", views.business_create, name="business_create"),
    path("business/<int:pk>/", views.business_detail, name="business_detail"),
    path("business/<int:pk>/edit/", views.business_edit, name="business_edit"),
    path("business/<int:pk>/retire/", views.business_retire, name="business_retire"),
]
