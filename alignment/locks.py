"""Keeps scans from interleaving.

On PostgreSQL a scan's transaction takes a transaction-level advisory lock; it is released at
commit or rollback, and by the server when a worker dies, so a crash never leaves it held.
Full scans, re-checks and a split scan's final step take it exclusively; the chunks of a split
scan take it shared (they may run side by side on several workers) plus an exclusive lock on
their own id range. A scan waits up to ALIGNMENT_SCAN_LOCK_WAIT_SECONDS, then gives up with
`ScanBusy` (recorded on the scan as failed with the reason).

Elsewhere (SQLite, one machine) an atomic cache `add` is the lock, with a time-to-live so a
killed worker's lock expires; SQLite serialises writers anyway.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connection

# Two-int advisory lock keys: (namespace, key). The namespace is arbitrary but fixed.
NAMESPACE = 0x5CA7  # "scan"
CHUNK_NAMESPACE = 0x5CA8
SCAN_KEY = 0
CACHE_KEY_TEMPLATE = "alignment:{}:scan-lock"
CACHE_LOCK_TTL_SECONDS = 15 * 60


class ScanBusy(Exception):
    """Another scan held the lock for longer than we were willing to wait."""


@dataclass(frozen=True)
class LockSpec:
    """What a scan locks: the scan key exclusively or shared, and optionally a chunk range."""

    shared: bool = False
    chunk_lo: int | None = None

    @classmethod
    def full(cls) -> LockSpec:
        return cls()

    @classmethod
    def projects(cls, project_ids: tuple[int, ...]) -> LockSpec:
        # Re-checks are small and quick; serialising them with everything keeps them simple.
        return cls()

    @classmethod
    def portfolio(cls) -> LockSpec:
        return cls()

    @classmethod
    def chunk(cls, lo: int, hi: int) -> LockSpec:
        return cls(shared=True, chunk_lo=lo)


def cache_key() -> str:
    """The cache lock's key, per database so that parallel test databases do not collide."""
    return CACHE_KEY_TEMPLATE.format(connection.settings_dict["NAME"])


def wait_seconds() -> int:
    return int(getattr(settings, "ALIGNMENT_SCAN_LOCK_WAIT_SECONDS", 120))


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def lock_in_transaction(spec: LockSpec) -> None:
    """On PostgreSQL, take the advisory lock(s) for this transaction (waiting, bounded)."""
    if not _is_postgres():
        return
    function = "pg_advisory_xact_lock_shared" if spec.shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{wait_seconds()}s"])
        try:
            cursor.execute(f"SELECT {function}(%s, %s)", [NAMESPACE, SCAN_KEY])
            if spec.chunk_lo is not None:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)", [CHUNK_NAMESPACE, spec.chunk_lo]
                )
        except OperationalError as exc:
            if "lock timeout" in str(exc):
                raise ScanBusy(
                    f"another scan held the lock for more than {wait_seconds()} seconds"
                ) from exc
            raise
        # Back to no timeout: the scan's own statements must not be cut short.
        cursor.execute("SELECT set_config('lock_timeout', '0', true)")


@contextmanager
def scan_lock(spec: LockSpec) -> Iterator[None]:
    """Outside PostgreSQL, hold the cache lock around the scan's transaction."""
    if _is_postgres():
        yield
        return
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait_seconds()
    while not cache.add(cache_key(), token, CACHE_LOCK_TTL_SECONDS):
        if time.monotonic() >= deadline:
            raise ScanBusy(f"another scan held the lock for more than {wait_seconds()} seconds")
        time.sleep(0.2)
    try:
        yield
    finally:
        # Only release our own lock (it may have expired and been taken by another scan).
        if cache.get(cache_key()) == token:
            cache.delete(cache_key())
