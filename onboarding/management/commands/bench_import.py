"""Generate a workbook of N rows, import it into the current database, print time and memory."""

import platform
import resource
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from onboarding.bench import write_bench_workbook
from onboarding.importer import import_workbook


def _peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * resource.getpagesize() / 1024 / 1024
    except OSError:
        return 0.0


class Command(BaseCommand):
    help = (
        "Generate a portfolio workbook of about N rows, import it into the CURRENT database "
        "(point DATABASE_URL at a scratch database) as an admin, and print how long reading, "
        "checking, writing and the scan took, and the process's memory."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, default=100_000, help="Data rows (about).")
        parser.add_argument("--dry-run", action="store_true", help="Check only; write nothing.")
        parser.add_argument("--keep", help="Also keep the generated workbook at this path.")
        parser.add_argument("--force", action="store_true", help="Run even with DJANGO_DEBUG off.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "Refusing to import a generated portfolio with DJANGO_DEBUG off: point "
                "DATABASE_URL at a scratch database, or use --force."
            )
        if options["rows"] < 1:
            raise CommandError("--rows takes a number of 1 or more.")
        actor = (
            get_user_model()
            .objects.filter(is_superuser=True, is_active=True)
            .order_by("pk")
            .first()
        )
        if actor is None:
            raise CommandError("No active admin to import as: run createsuperuser first.")
        tag = f"B{secrets.token_hex(3)}"
        with tempfile.TemporaryDirectory() as directory:
            path = Path(options["keep"] or Path(directory) / "bench.xlsx")
            started = time.monotonic()
            rows = write_bench_workbook(path, rows=options["rows"], tag=tag)
            generated = time.monotonic() - started
            size = path.stat().st_size / 1024 / 1024
            self.stdout.write(f"Generated {rows:,} rows ({size:.1f} MB) in {generated:.1f} s.")
            rss_before = _rss_mb()
            started = time.monotonic()
            cpu_started = time.process_time()
            report = import_workbook(
                path,
                filename=path.name,
                actor=actor,
                dry_run=options["dry_run"],
            )
            seconds = time.monotonic() - started
            cpu = time.process_time() - cpu_started
        if report.errors:
            for problem in report.errors[:10]:
                self.stderr.write(f"{problem.sheet} row {problem.row}: {problem.message}")
            raise CommandError(f"The import reported {len(report.errors)} problem(s).")
        self.stdout.write(
            f"{'Checked' if options['dry_run'] else 'Imported'} {rows:,} rows in "
            f"{seconds:.1f} s ({rows / seconds:,.0f} rows/s)"
            + (f"; scan {report.scan_id}" if report.scan_id else "")
            + "."
        )
        phases = ", ".join(f"{name} {value:.1f} s" for name, value in report.seconds.items())
        self.stdout.write(f"Phases: {phases}; CPU time of this process {cpu:.1f} s.")
        self.stdout.write(
            f"Memory: {rss_before:.0f} MB before the import, peak {_peak_rss_mb():.0f} MB "
            "(resident set of this process)."
        )
        self.stdout.write(f"Created: {sum(report.created.values()):,} rows; tag {tag}.")
        self.stdout.write(
            f"Machine: {platform.machine()}, {platform.processor() or platform.system()}, "
            f"database {connection.vendor}."
        )
