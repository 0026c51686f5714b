from django.apps import AppConfig


class AlignmentConfig(AppConfig):
    name = "alignment"
    verbose_name = "Alignment"

    def ready(self) -> None:
        from core.audit import page_key, register_pages

        from . import receivers  # noqa: F401  (connects the re-check on domain changes)
        from .models import Flag

        # A flag's state changes (acknowledge, waive, the scan's resolve and reopen) show in
        # its own history and on its project's History tab.
        register_pages(
            Flag, lambda o: (page_key("project", o.project_id), page_key("flag", o.pk)), kind="flag"
        )
