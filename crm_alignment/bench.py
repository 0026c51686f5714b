"""What `manage.py bench` measures, and how: scans, re-checks and pages on a generated portfolio.

Per scale: generate the portfolio (crm_alignment.portfolio) in the current database, then

- full scan, first (no flags yet) and steady (nothing changed since the last scan), in seconds:
  the scan's transaction (the rules, the flags), and apart from it the snapshot it records once
  that has committed (`engine.take_snapshot`: the dashboard's figures, in their own transaction);
- the raw-SQL oracle (tests/alignment/oracle.py: every rule once, in plain SQL, counted in the
  database) and the scans' ratio to it, and whether the flags equal the oracle's sets;
- a re-check after one edit: `engine.scan_projects` for one project whose sponsor was just
  removed (or restored), in milliseconds;
- every alignment page and the main lists, through Django's test client signed in as an
  executive: p50/p95 time, queries, rows fetched from the database, response size, and how
  much the process's peak memory grew;
- throughput (PostgreSQL only): `/api/projects/` on gunicorn started as production runs it
  (crm_alignment.throughput), signed in with an API token, driven by N concurrent connections
  for a fixed time: requests per second, p50/p95 latency and errors. The tables the list reads
  are vacuumed and analysed first, as autovacuum would have done by then.

Honest by construction: nothing is cached between runs except what the app caches itself;
pages are timed with DEBUG off, as in production. On PostgreSQL the flag table is vacuumed and
analysed between scans, as autovacuum would between two periodic scans.
"""

from __future__ import annotations

import datetime
import importlib
import math
import os
import platform
import resource
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection, transaction
from django.db.backends.utils import CursorDebugWrapper
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from knox.settings import CONSTANTS

from alignment import engine, notify
from alignment.models import Flag, Scan, ScanState, Snapshot
from core import tokens
from core.roles import Role
from projects.models import (
    CRMProject,
    Feature,
    FeatureLink,
    ProjectCheckIn,
    ProjectLink,
    ProjectStatus,
    RoadmapPhase,
    SuccessMetric,
)

from . import throughput
from .portfolio import Shape, generate_portfolio

# (label, URL name, query string)
PAGES: list[tuple[str, str, str]] = [
    ("dashboard", "alignment:dashboard", ""),
    ("strategy map", "alignment:map", ""),
    ("matrix", "alignment:matrix", ""),
    ("flag inbox", "alignment:flags", ""),
    ("projects page", "projects:list", ""),
    ("roadmap", "projects:roadmap", ""),
    ("goals page", "goals:list", ""),
    ("search", "search", "q=portal"),
    ("/api/projects/", "api:project-list", ""),
    ("/api/features/", "api:feature-list", ""),
    ("/api/goals/", "api:goal-list", ""),
    ("/api/business-strategies/", "api:business-strategy-list", ""),
    ("/api/flags/?state=open", "api:flag-list", "state=open"),
    ("/api/alignment/summary/", "api:alignment-summary", ""),
]
# The list driven under load on gunicorn.
THROUGHPUT_URL = ("/api/projects/", "api:project-list")


class BenchError(Exception):
    """Something the bench cannot measure honestly (a failed scan, a page that errs)."""


@dataclass
class PageResult:
    label: str
    timings: list[float]
    queries: int
    rows: int
    size: int
    rss_growth_kb: int

    def percentile(self, p: float) -> float:
        ordered = sorted(self.timings)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class ScaleResult:
    projects: int
    features: int
    generated_seconds: float | None = None
    flags: int = 0
    scan_first: float = 0.0
    # The first scan's follow-up: telling people of the flags it opened (None: it ran inside
    # the scan's call, tasks being run in-process), and how many flag.opened events it made.
    told_first: float | None = None
    told_events: int = 0
    # Each scan's snapshot, taken after its transaction committed (engine.take_snapshot).
    snapshot_first: float = 0.0
    scan_steady: list[float] = field(default_factory=list)
    snapshot_steady: list[float] = field(default_factory=list)
    oracle: float | None = None
    oracle_agrees: bool | None = None
    oracle_differences: list[str] = field(default_factory=list)
    recheck_ms: list[float] = field(default_factory=list)
    pages: list[PageResult] = field(default_factory=list)
    load: throughput.LoadResult | None = None
    server: str = ""

    @property
    def steady(self) -> float:
        return statistics.median(self.scan_steady) if self.scan_steady else 0.0

    @property
    def steady_snapshot(self) -> float:
        return statistics.median(self.snapshot_steady) if self.snapshot_steady else 0.0


def load_oracle() -> ModuleType | None:
    """The raw-SQL oracle lives with the tests it serves; without them (a slim image) the bench
    runs without the ratio."""
    try:
        return importlib.import_module("tests.alignment.oracle")
    except ImportError:
        return None


# --- Counting rows ------------------------------------------------------------------------------


class _RowCount:
    def __init__(self) -> None:
        self.rows = 0


def _counting_cursor(counter: _RowCount) -> type[CursorDebugWrapper]:
    class CountingCursor(CursorDebugWrapper):
        def fetchone(self) -> Any:
            with self.db.wrap_database_errors:
                row = self.cursor.fetchone()
            if row is not None:
                counter.rows += 1
            return row

        def fetchmany(self, size: int | None = None) -> Any:
            with self.db.wrap_database_errors:
                rows = self.cursor.fetchmany() if size is None else self.cursor.fetchmany(size)
            counter.rows += len(rows)
            return rows

        def fetchall(self) -> Any:
            with self.db.wrap_database_errors:
                rows = self.cursor.fetchall()
            counter.rows += len(rows)
            return rows

        def __iter__(self) -> Iterator[Any]:
            for row in self.cursor:
                counter.rows += 1
                yield row

    return CountingCursor


@contextmanager
def counting_queries() -> Iterator[tuple[_RowCount, CaptureQueriesContext]]:
    """Capture the queries and count the rows the process fetches from the database while the
    block runs."""
    counter = _RowCount()
    cursor_class = _counting_cursor(counter)
    # CaptureQueriesContext makes every cursor a debug cursor; this one also counts rows.
    connection.make_debug_cursor = lambda cursor: cursor_class(cursor, connection)  # type: ignore[method-assign]
    try:
        with CaptureQueriesContext(connection) as captured:
            yield counter, captured
    finally:
        del connection.make_debug_cursor


# --- The measurements ---------------------------------------------------------------------------


def _vacuum_flags() -> None:
    """Between two scans, what autovacuum does between two periodic scans (PostgreSQL, and only
    outside a transaction: VACUUM cannot run inside one)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(Flag._meta.db_table)}")


def _clear_scan_results() -> None:
    """A reused portfolio's flags, scans and snapshots go, so the first scan starts clean."""
    Flag.objects.all().delete()
    Snapshot.objects.all().delete()
    Scan.objects.all().delete()


@dataclass
class _TimedScan:
    seconds: float
    snapshot: float
    telling: float | None
    events: int


def _timed_scan() -> _TimedScan:
    """A full scan, then what `scan_full` does once it has committed (its snapshot), then its
    follow-up telling people of the flags it opened (the task it queued, run here: the bench
    needs no worker): the seconds of each, and how many events it recorded. The telling is None
    when it had run already (tasks run in-process)."""
    started = time.perf_counter()
    scan = engine.scan_full(snapshot=False)
    seconds = time.perf_counter() - started
    if scan is None or scan.state != ScanState.DONE:
        raise BenchError(f"The full scan did not finish: {getattr(scan, 'error', '')}")
    started = time.perf_counter()
    if engine.take_snapshot(scan.pk) is None:
        raise BenchError(f"Scan {scan.pk}'s snapshot was not taken (see the log).")
    snapshot = time.perf_counter() - started
    started = time.perf_counter()
    events = notify.tell_scan(scan.pk)
    telling = time.perf_counter() - started
    return _TimedScan(seconds, snapshot, telling if events is not None else None, events or 0)


def measure_scans(result: ScaleResult, *, steady_runs: int, oracle: ModuleType | None) -> None:
    _clear_scan_results()
    # The deleted flags' space back, as autovacuum would give it: each measure of a reused
    # portfolio starts from the same table, not one bloated by the last run's flags.
    _vacuum_flags()
    first = _timed_scan()
    result.scan_first, result.snapshot_first = first.seconds, first.snapshot
    result.told_first, result.told_events = first.telling, first.events
    result.flags = Flag.objects.exclude(state="resolved").count()
    for _ in range(steady_runs):
        _vacuum_flags()
        steady = _timed_scan()
        result.scan_steady.append(steady.seconds)
        result.snapshot_steady.append(steady.snapshot)
    if oracle is None:
        return
    timings = []
    for _ in range(3):
        # Like for like: in a transaction with the settings a scan's transaction has.
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    engine.scan_session_settings(cursor)
            started = time.perf_counter()
            oracle.count_findings()
            timings.append(time.perf_counter() - started)
    result.oracle = statistics.median(timings)
    expected = oracle.findings()
    flagged: dict[tuple[str, str], set[int]] = {}
    for rule, kind, subject in Flag.objects.exclude(state="resolved").values_list(
        "rule", "subject_type", "subject_id"
    ):
        flagged.setdefault((rule, kind), set()).add(subject)
    for key in sorted(set(expected) | set(flagged)):
        missing = len(expected.get(key, set()) - flagged.get(key, set()))
        extra = len(flagged.get(key, set()) - expected.get(key, set()))
        if missing or extra:
            result.oracle_differences.append(
                f"{key[0]} ({key[1]}): {missing} not flagged, {extra} flagged wrongly"
            )
    result.oracle_agrees = not result.oracle_differences


def measure_recheck(result: ScaleResult, *, runs: int) -> None:
    """Remove (then restore, and so on) one active project's sponsor and time the re-check."""
    active = CRMProject.objects.filter(status=ProjectStatus.ACTIVE).order_by("pk")
    count = active.count()
    if not count:
        return
    project_id, sponsor_id = active.values_list("pk", "sponsor_id")[count // 2]
    try:
        for run in range(runs):
            # A plain update, so no signal queues a re-check of its own.
            CRMProject.objects.filter(pk=project_id).update(
                sponsor_id=None if run % 2 == 0 else sponsor_id
            )
            started = time.perf_counter()
            engine.scan_projects([project_id])
            result.recheck_ms.append((time.perf_counter() - started) * 1000)
    finally:
        CRMProject.objects.filter(pk=project_id).update(sponsor_id=sponsor_id)
        engine.scan_projects([project_id])


def _executive() -> Any:
    user = (
        get_user_model()
        .objects.filter(groups__name=Role.EXECUTIVE, is_active=True)
        .order_by("pk")
        .first()
    )
    if user is None:
        raise BenchError("No active executive to sign in as: the portfolio has none.")
    return user


def _max_rss_kb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def measure_pages(result: ScaleResult, *, repeat: int, budget: float) -> None:
    """Each page `repeat` times (fewer once it has taken `budget` seconds; at least once)."""
    hosts = [*settings.ALLOWED_HOSTS, "testserver"]
    with override_settings(DEBUG=False, ALLOWED_HOSTS=hosts):
        client = Client(secure=True)
        client.force_login(_executive())
        client.get(reverse("home"))  # warm up URL resolving, templates, the session
        for label, name, query in PAGES:
            url = reverse(name) + (f"?{query}" if query else "")
            timings: list[float] = []
            queries = rows = size = 0
            rss_before = _max_rss_kb()
            while len(timings) < max(repeat, 1) and (not timings or sum(timings) < budget):
                with counting_queries() as (counter, captured):
                    started = time.perf_counter()
                    response = client.get(url)
                    timings.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise BenchError(f"{url} answered {response.status_code}")
                queries, rows = len(captured.captured_queries), counter.rows
                size = len(response.content)
                del response
            result.pages.append(
                PageResult(label, timings, queries, rows, size, _max_rss_kb() - rss_before)
            )


# What /api/projects/ reads: vacuumed and analysed before it is driven (see _vacuum_list).
_LIST_TABLES = [
    CRMProject,
    ProjectLink,
    Feature,
    FeatureLink,
    SuccessMetric,
    RoadmapPhase,
    ProjectCheckIn,
]


def _vacuum_list() -> None:
    """Before the throughput step, what autovacuum does soon after a portfolio is written (the
    visibility map lets the list's count read only the index; fresh statistics). A scratch
    database may run with autovacuum off; production's has it on (README, Scans)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in _LIST_TABLES)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {tables}")


def measure_throughput(result: ScaleResult, options: Options) -> None:
    """`/api/projects/` on gunicorn under `options.connections` concurrent connections.

    An executive is given a password for the run (the generated ones have none), signs in at
    POST /api/auth/token/ like any API client, and the list is requested with that token. The
    password and the token are taken away again, and gunicorn is stopped, whatever happens."""
    user = _executive()
    users = get_user_model().objects
    saved_password = user.password
    password = secrets.token_urlsafe(24)
    key = ""
    try:
        env = throughput.production_environment()
        result.server = throughput.describe(throughput.server_settings(env))
        # Hashed with production's default hasher whatever this process's settings say (the
        # test settings hash with MD5, which the server's production settings do not accept).
        # A plain update, put back below: the save signal would revoke the user's tokens.
        hasher = PBKDF2PasswordHasher()
        users.filter(pk=user.pk).update(password=hasher.encode(password, hasher.salt()))
        _vacuum_list()
        with (
            tempfile.TemporaryDirectory(prefix="bench-gunicorn-") as folder,
            throughput.gunicorn(env, Path(folder) / "gunicorn.log") as server,
        ):
            key = server.sign_in(user.get_username(), password)
            result.load = throughput.drive(
                server.port,
                reverse(THROUGHPUT_URL[1]),
                headers={"Authorization": f"Token {key}"},
                connections=options.connections,
                seconds=options.duration,
                warmup=options.warmup,
            )
    except throughput.ServerError as exc:
        raise BenchError(str(exc)) from exc
    finally:
        users.filter(pk=user.pk).update(password=saved_password)
        if key:
            tokens.revoke_token(user, key[: CONSTANTS.TOKEN_KEY_LENGTH])


# --- Running and reporting ----------------------------------------------------------------------


@dataclass
class Options:
    features_per_project: int = 10
    seed: int = 1
    steady_runs: int = 1
    recheck_runs: int = 6
    repeat: int = 5
    page_budget: float = 60.0
    throughput: bool = True
    connections: int = 10
    duration: float = 10.0
    warmup: float = 2.0


def run_scale(
    projects: int | None,
    options: Options,
    *,
    oracle: ModuleType | None,
    write: Callable[[str], None],
) -> ScaleResult:
    """Generate a portfolio of `projects` projects (None: measure the one that is there) and
    measure it."""
    generated = None
    if projects is not None:
        shape = Shape(projects, options.features_per_project, options.seed)
        write(f"Generating {projects:,} projects x {options.features_per_project} features …")
        generated = generate_portfolio(shape).seconds
    result = ScaleResult(
        projects=CRMProject.objects.count(),
        features=Feature.objects.count(),
        generated_seconds=generated,
    )
    write(f"Scanning {result.projects:,} projects, {result.features:,} features …")
    # As a worker runs them: DEBUG off (no query log kept in memory).
    with override_settings(DEBUG=False):
        measure_scans(result, steady_runs=options.steady_runs, oracle=oracle)
        measure_recheck(result, runs=options.recheck_runs)
    write("Timing pages …")
    measure_pages(result, repeat=options.repeat, budget=options.page_budget)
    if options.throughput and connection.vendor != "postgresql":
        write("No throughput measure: gunicorn shares the database only on PostgreSQL.")
    elif options.throughput:
        write(
            f"Driving {THROUGHPUT_URL[0]} on gunicorn with {options.connections} connections "
            f"for {options.duration:g} s …"
        )
        measure_throughput(result, options)
    return result


def environment() -> str:
    vendor = connection.vendor
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            row = cursor.fetchone()
        database = f"PostgreSQL {row[0].split()[0] if row else '?'}"
    else:
        import sqlite3

        database = f"SQLite {sqlite3.sqlite_version}"
    return (
        f"{database}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{datetime.date.today().isoformat()}"
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def _time(seconds: float) -> str:
    """Seconds above one, else milliseconds."""
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def report_scale(result: ScaleResult) -> list[str]:
    """The table of one scale, as text lines."""
    lines = [
        f"== {result.projects:,} projects, {result.features:,} features"
        + (
            f" (generated in {_time(result.generated_seconds)})"
            if result.generated_seconds is not None
            else " (reused)"
        ),
        f"{'full scan, first':<28}{_time(result.scan_first):>10}  "
        f"({result.flags:,} unresolved flags)",
        f"{'  then its snapshot':<28}{_time(result.snapshot_first):>10}  "
        "(the dashboard's figures, in their own transaction)",
    ]
    if result.told_first is not None:
        lines.append(
            f"{'  then telling people':<28}{_time(result.told_first):>10}  "
            f"({result.told_events:,} flag.opened events, in their own task)"
        )
    if result.scan_steady:
        lines.append(f"{'full scan, steady':<28}{_time(result.steady):>10}")
        lines.append(f"{'  then its snapshot':<28}{_time(result.steady_snapshot):>10}")
    if result.oracle is not None:
        oracle = result.oracle
        ratios = (
            f"first {result.scan_first / oracle:.1f}x "
            f"({(result.scan_first + result.snapshot_first) / oracle:.1f}x with its snapshot)"
        )
        if result.scan_steady:
            ratios += (
                f", steady {result.steady / oracle:.1f}x "
                f"({(result.steady + result.steady_snapshot) / oracle:.1f}x with its snapshot)"
            )
        agrees = "yes" if result.oracle_agrees else "NO"
        lines.append(
            f"{'raw-SQL oracle':<28}{_time(result.oracle):>10}  {ratios}; flags = oracle: {agrees}"
        )
        lines.extend(f"    {line}" for line in result.oracle_differences)
    if result.recheck_ms:
        lines.append(
            f"{'re-check after one edit':<28}{statistics.median(result.recheck_ms):>7.0f} ms  "
            f"p50, max {max(result.recheck_ms):.0f} ms ({len(result.recheck_ms)} runs)"
        )
    lines.append(
        f"{'page':<28}{'n':>3}{'p50 ms':>9}{'p95 ms':>9}{'queries':>9}{'rows':>10}"
        f"{'kB':>9}{'RSS +MB':>9}"
    )
    for page in result.pages:
        lines.append(
            f"{page.label:<28}{len(page.timings):>3}{_ms(page.percentile(50)):>9}"
            f"{_ms(page.percentile(95)):>9}{page.queries:>9}{page.rows:>10,}"
            f"{page.size / 1024:>9,.0f}{page.rss_growth_kb / 1024:>9,.0f}"
        )
    if result.load is not None:
        load = result.load
        lines.append(
            f"{THROUGHPUT_URL[0] + ' on gunicorn':<28}{load.per_second:>7.0f} req/s  "
            f"p50 {_ms(load.percentile(50))} ms, p95 {_ms(load.percentile(95))} ms, "
            f"{load.errors} errors ({load.requests:,} requests, {load.connections} connections, "
            f"{load.seconds:g} s; {result.server})"
        )
        if load.first_error:
            lines.append(f"    first error: {load.first_error}")
    return lines


def report_summary(results: list[ScaleResult]) -> list[str]:
    """All scales side by side, as a Markdown table (for the README)."""
    header = "| what | " + " | ".join(f"{r.projects:,} projects" for r in results) + " |"
    lines = [header, "|---|" + "---:|" * len(results)]

    def row(label: str, cell: Callable[[ScaleResult], str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in results) + " |")

    row("features", lambda r: f"{r.features:,}")
    row(
        "generate",
        lambda r: _time(r.generated_seconds) if r.generated_seconds is not None else "—",
    )
    row("unresolved flags", lambda r: f"{r.flags:,}")
    row("full scan, first", lambda r: _time(r.scan_first))
    row("then its snapshot (its own transaction)", lambda r: _time(r.snapshot_first))
    row(
        "then telling people of its flags (its own task)",
        lambda r: (
            f"{_time(r.told_first)} ({r.told_events:,} events)" if r.told_first is not None else "—"
        ),
    )
    row("full scan, steady", lambda r: _time(r.steady) if r.scan_steady else "—")
    row(
        "then its snapshot",
        lambda r: _time(r.steady_snapshot) if r.scan_steady else "—",
    )
    row("raw-SQL oracle", lambda r: _time(r.oracle) if r.oracle else "—")
    row(
        "first / oracle, steady / oracle",
        lambda r: (
            f"{r.scan_first / r.oracle:.1f}x / {r.steady / r.oracle:.1f}x" if r.oracle else "—"
        ),
    )
    row(
        "the same with the snapshot",
        lambda r: (
            f"{(r.scan_first + r.snapshot_first) / r.oracle:.1f}x / "
            f"{(r.steady + r.steady_snapshot) / r.oracle:.1f}x"
            if r.oracle
            else "—"
        ),
    )
    row(
        "flags = oracle",
        lambda r: "—" if r.oracle_agrees is None else ("yes" if r.oracle_agrees else "**no**"),
    )
    row(
        "re-check after one edit, p50",
        lambda r: f"{statistics.median(r.recheck_ms):.0f} ms" if r.recheck_ms else "—",
    )

    def page_cell(index: int) -> Callable[[ScaleResult], str]:
        def cell(r: ScaleResult) -> str:
            page = r.pages[index]
            return (
                f"{_ms(page.percentile(50))} / {_ms(page.percentile(95))} ms "
                f"({page.queries}, {page.rows:,}, {page.size / 1024:,.0f} kB)"
            )

        return cell

    for index, (label, _, _) in enumerate(PAGES):
        row(f"{label} p50 / p95 (queries, rows, size)", page_cell(index))

    def load_cell(r: ScaleResult) -> str:
        load = r.load
        if load is None:
            return "—"
        return (
            f"{load.per_second:,.0f} req/s ({_ms(load.percentile(50))} / "
            f"{_ms(load.percentile(95))} ms, {load.errors} errors; {load.connections} "
            f"connections, {r.server})"
        )

    if any(r.load is not None for r in results):
        row(f"{THROUGHPUT_URL[0]} on gunicorn: req/s (p50 / p95, errors)", load_cell)

    def largest_growth(r: ScaleResult) -> str:
        page = max(r.pages, key=lambda p: p.rss_growth_kb)
        return f"{page.rss_growth_kb / 1024:,.0f} MB ({page.label})"

    row("largest peak-memory growth of a page", largest_growth)
    return lines
