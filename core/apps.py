from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The kernel: roles, the permission gate and the helpers every app shares. It imports no
    app of this project (import-linter checks it)."""

    name = "core"
    verbose_name = "Kernel"
