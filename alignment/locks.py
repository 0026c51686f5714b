"""Keeps scans from interleaving: one scan at a time, full scans and re-checks alike.

On PostgreSQL a scan's transaction takes a transaction-level advisory lock; it is released at
commit or rollback, and by the server when a worker dies, so a crash never leaves it held.

Elsewhere (SQLite, one machine) an atomic cache `add` is the lock, with a time-to-live longer
than a scan may run (ALIGNMENT_SCAN_HARD_TIME_LIMIT_SECONDS), so a killed worker's lock expires
but a live scan's never does; SQLite serialises writers anyway.

A scan waits up to ALIGNMENT_SCAN_LOCK_WAIT_SECONDS (never past its own deadline), then gives
up with `ScanBusy`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connection

# Two-int advisory lock key: (namespace, key). The namespace is arbitrary but fixed.
NAMESPACE = 0x5CA7  # "scan"
SCAN_KEY = 0
CACHE_KEY_TEMPLATE = "alignment:{}:scan-lock"


class ScanBusy(Exception):
    """Another scan held the lock for longer than we were willing to wait."""


def cache_key() -> str:
    """The cache lock's key, per database so that parallel test databases do not collide."""
    return CACHE_KEY_TEMPLATE.format(connection.settings_dict["NAME"])


def wait_seconds(deadline: float | None = None) -> float:
    """How long to wait for the lock: the configured wait, cut short by the scan's deadline."""
    wait = float(settings.ALIGNMENT_SCAN_LOCK_WAIT_SECONDS)
    if deadline is not None:
        wait = min(wait, deadline - time.monotonic())
    return max(wait, 0.001)


def _busy(waited: float) -> ScanBusy:
    return ScanBusy(f"another scan held the lock for more than {round(waited)} seconds")


def _cache_ttl() -> int:
    return int(settings.ALIGNMENT_SCAN_HARD_TIME_LIMIT_SECONDS) + 60


def lock_in_transaction(deadline: float | None = None) -> None:
    """On PostgreSQL, take the advisory lock for this transaction (waiting, bounded)."""
    if connection.vendor != "postgresql":
        return
    wait = wait_seconds(deadline)
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(wait * 1000)}ms"])
        try:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [NAMESPACE, SCAN_KEY])
        except OperationalError as exc:
            if "lock timeout" in str(exc):
                raise _busy(wait) from exc
            raise
        # Back to no lock timeout: the scan's own statements must not be cut short by it.
        cursor.execute("SELECT set_config('lock_timeout', '0', true)")


@contextmanager
def scan_lock(deadline: float | None = None) -> Iterator[None]:
    """Outside PostgreSQL, hold the cache lock around the scan's transaction."""
    if connection.vendor == "postgresql":
        yield
        return
    token = uuid.uuid4().hex
    wait = wait_seconds(deadline)
    give_up = time.monotonic() + wait
    while not cache.add(cache_key(), token, _cache_ttl()):
        if time.monotonic() >= give_up:
            raise _busy(wait)
        time.sleep(0.2)
    try:
        yield
    finally:
        # Only release our own lock (it may have expired and been taken by another scan).
        if cache.get(cache_key()) == token:
            cache.delete(cache_key())
