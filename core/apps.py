from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The kernel: roles, the permission gate and the helpers every app shares. It imports no
    app of this project (import-linter checks it)."""

    name = "core"
    verbose_name = "Kernel"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save

        from .tokens import revoke_on_credentials_change

        post_save.connect(
            revoke_on_credentials_change,
            sender=get_user_model(),
            dispatch_uid="core.tokens.revoke_on_credentials_change",
        )
