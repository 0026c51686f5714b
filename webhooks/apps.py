from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Outgoing webhooks: admins subscribe an HTTP(S) address to events of the catalogue
    (core.events); each event is recorded as a delivery in the emitter's transaction and POSTed,
    signed, by a Celery task after commit, with retries. It imports no app but the kernel."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (connects the receiver, registers checks)
