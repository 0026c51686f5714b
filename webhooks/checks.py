"""System checks: links in webhooks need SITE_URL."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register


@register()
def site_url_is_set(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if settings.SITE_URL:
        return []
    return [
        Warning(
            "SITE_URL is not set: the links in webhook payloads are paths, not addresses.",
            hint="Set SITE_URL to the address people reach the site at, e.g. "
            "https://crm-alignment.example.com.",
            id="webhooks.W001",
        )
    ]
