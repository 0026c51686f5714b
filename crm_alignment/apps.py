from django.apps import AppConfig


class CrmAlignmentConfig(AppConfig):
    name = "crm_alignment"
    verbose_name = "CRM Strategy Alignment"

    def ready(self) -> None:
        # The onboarding app writes the demo as a workbook, but may not import the demo (it
        # lives here, above it): hand it the loader.
        from onboarding.export import register_demo_loader

        from .demo import load_demo

        register_demo_loader(load_demo)
