from django.apps import AppConfig


class AlignmentConfig(AppConfig):
    name = "alignment"
    verbose_name = "Alignment"

    def ready(self) -> None:
        from core.audit import page_key, register_pages
        from goals import health

        from . import (
            goal_health,
            receivers,  # noqa: F401  (connects the re-check on domain changes)
        )
        from .models import Flag

        # Goal health is computed here and shown by the goals and strategies layers too.
        health.register("goal", goal_health.goal_verdicts)
        health.register("business_strategy", goal_health.business_strategy_verdicts)
        # A flag's state changes (acknowledge, waive, the scan's resolve and reopen) show in
        # its own history and on its project's History tab.
        register_pages(
            Flag, lambda o: (page_key("project", o.project_id), page_key("flag", o.pk)), kind="flag"
        )
