from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    """A whole portfolio in and out of one workbook: the workbook format, export, and import
    (validated first, applied all-or-nothing through the services of every app, then one full
    alignment scan). It sits above the apps whose objects it reads and writes."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "onboarding"
    verbose_name = "Spreadsheet onboarding"
