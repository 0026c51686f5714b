from django.apps import AppConfig


class CrmAlignmentConfig(AppConfig):
    name = "crm_alignment"
    verbose_name = "CRM Strategy Alignment"
