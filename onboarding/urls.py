"""The spreadsheet pages: import, a job's progress and report, downloads, CSV of the lists."""

from django.urls import path

from . import views

app_name = "onboarding"

urlpatterns = [
    path("import/", views.import_page, name="import"),
    path("import/jobs/<int:pk>/", views.job_page, name="job"),
    path("import/jobs/<int:pk>/status/", views.job_status, name="job_status"),
    path("import/jobs/<int:pk>/apply/", views.apply_job, name="apply"),
    path("import/template.xlsx", views.download_template, name="template"),
    path("import/demo.xlsx", views.download_demo, name="demo"),
    path("export/portfolio.xlsx", views.export_workbook, name="export"),
    path("export/goals.csv", views.goals_csv, name="goals_csv"),
    path("export/projects.csv", views.projects_csv, name="projects_csv"),
    path("export/flags.csv", views.flags_csv, name="flags_csv"),
]
