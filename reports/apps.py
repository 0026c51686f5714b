from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Reports that leave the application: the board pack (a PDF for executives and sponsors,
    rendered from the dashboard's own templates and charts), made at once or as a job, and
    mailed monthly to those who opted in. It reads the apps below it and imports none above."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "reports"
    verbose_name = "Reports"
