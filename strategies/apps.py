from django.apps import AppConfig


class StrategiesConfig(AppConfig):
    name = "strategies"
    verbose_name = "Strategies"

    def ready(self) -> None:
        from core.audit import page_key, register_pages

        from .models import BusinessStrategy, CRMStrategy, CRMStrategyServes

        # Which History tabs show a change (core.audit): what a CRM strategy serves shows on
        # the CRM strategy's and on the business strategy's.
        register_pages(
            BusinessStrategy,
            lambda o: (page_key("business_strategy", o.pk), ""),
            kind="business_strategy",
        )
        register_pages(
            CRMStrategy, lambda o: (page_key("crm_strategy", o.pk), ""), kind="crm_strategy"
        )
        register_pages(
            CRMStrategyServes,
            lambda o: (
                page_key("crm_strategy", o.crm_strategy_id),
                page_key("business_strategy", o.business_strategy_id),
            ),
        )
