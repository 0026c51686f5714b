"""Throttles that fail open: a rate limit is a defence, not a dependency.

The attempt counters live in the cache. When the cache is unreachable (Redis down or hanging
until its socket timeout, the cache table missing), counting is impossible; refusing every
request would lock everybody out of signing in, and a server error would do the same. So the
request is let through and a warning is logged: for the length of the outage the limit is off,
the passwords and the lockout of the authentication backend still stand.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class FailOpenThrottleMixin:
    """Put before a DRF throttle class: `allow_request` answers True when the cache fails."""

    def allow_request(self, request: Any, view: Any) -> bool:
        try:
            return bool(super().allow_request(request, view))  # type: ignore[misc]
        except Exception as exc:  # any cache backend's error: redis, database, socket
            log.warning(
                "Throttle %s not applied, the cache is unavailable (%s: %s)",
                type(self).__name__,
                type(exc).__name__,
                exc,
            )
            return True
