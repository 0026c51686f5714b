from django.apps import AppConfig


class GoalsConfig(AppConfig):
    name = "goals"
    verbose_name = "Goals"

    def ready(self) -> None:
        from core.audit import page_key, register_pages

        from .models import KPI, BusinessGoal, KPICheckIn

        # Which History tabs show a change (core.audit): a goal's shows its KPIs and readings.
        register_pages(BusinessGoal, lambda o: (page_key("goal", o.pk), ""), kind="goal")
        register_pages(
            KPI, lambda o: (page_key("goal", o.goal_id), page_key("kpi", o.pk)), kind="kpi"
        )
        register_pages(
            KPICheckIn, lambda o: (page_key("goal", o.kpi.goal_id), page_key("kpi", o.kpi_id))
        )
