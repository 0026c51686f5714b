"""The board report's pages."""

from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("reports/board/", views.board_page, name="board"),
    path("reports/board/monthly/", views.monthly_mail, name="monthly"),
    path("reports/board.pdf", views.board_pdf, name="board_pdf"),
    path("reports/jobs/<int:pk>/", views.job_page, name="job"),
    path("reports/jobs/<int:pk>/status/", views.job_status, name="job_status"),
    path("reports/jobs/<int:pk>/board-pack.pdf", views.job_pdf, name="job_pdf"),
    path("reports/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
