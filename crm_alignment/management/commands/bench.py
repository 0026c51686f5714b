"""Measure scans, re-checks and pages on generated portfolios (crm_alignment.bench)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm_alignment.bench import (
    BenchError,
    Options,
    environment,
    load_oracle,
    report_scale,
    report_summary,
    run_scale,
)
from crm_alignment.management.commands.generate_portfolio import check_may_generate
from crm_alignment.portfolio import clear_portfolio, has_portfolio


def _scales(text: str) -> list[int]:
    try:
        scales = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise CommandError(f"--scales takes numbers separated by commas, not {text!r}.") from exc
    if not scales or min(scales) < 1:
        raise CommandError("--scales needs at least one number of projects, each 1 or more.")
    return scales


class Command(BaseCommand):
    help = (
        "Generate a portfolio per scale in the CURRENT database (point DATABASE_URL at a "
        "scratch database) — or --reuse the one there — and print full-scan times against the "
        "raw-SQL oracle, the re-check after one edit, p50/p95 of the alignment pages and main "
        "lists, and the requests per second /api/projects/ serves on gunicorn under concurrent "
        "connections. Between scales the generated portfolio is deleted; the last one is kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--projects", type=int, help="One scale: this many projects.")
        which.add_argument("--scales", help="Several scales, e.g. 1000,10000 (projects).")
        which.add_argument(
            "--reuse",
            action="store_true",
            help="Measure the portfolio already in the database (its flags are cleared first).",
        )
        parser.add_argument("--features-per-project", type=int, default=10)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--repeat", type=int, default=5, help="Requests per page.")
        parser.add_argument(
            "--page-budget",
            type=float,
            default=60.0,
            help="Seconds per page after which it is not requested again (at least once).",
        )
        parser.add_argument("--steady-runs", type=int, default=1, help="Steady full scans.")
        parser.add_argument("--recheck-runs", type=int, default=6, help="Re-checks timed.")
        parser.add_argument(
            "--no-throughput",
            action="store_true",
            help="Skip driving /api/projects/ on gunicorn (which needs PostgreSQL).",
        )
        parser.add_argument(
            "--connections", type=int, default=10, help="Concurrent connections (throughput)."
        )
        parser.add_argument(
            "--duration", type=float, default=10.0, help="Seconds measured (throughput)."
        )
        parser.add_argument(
            "--warmup", type=float, default=2.0, help="Seconds of warm-up before (throughput)."
        )
        parser.add_argument("--force", action="store_true", help="Run even with DJANGO_DEBUG off.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["reuse"]:
            if not has_portfolio():
                raise CommandError("--reuse: this database has no projects to measure.")
            scales: list[int | None] = [None]
        else:
            if has_portfolio():
                raise CommandError(
                    "Refusing to generate a portfolio here: this database already has projects. "
                    "Point DATABASE_URL at an empty scratch database, or use --reuse to measure "
                    "the portfolio that is there."
                )
            check_may_generate(append=False, force=options["force"])
            if options["scales"]:
                scales = list(_scales(options["scales"]))
            else:
                scales = [options["projects"] or 1000]
        settings = Options(
            features_per_project=options["features_per_project"],
            seed=options["seed"],
            steady_runs=options["steady_runs"],
            recheck_runs=options["recheck_runs"],
            repeat=options["repeat"],
            page_budget=options["page_budget"],
            throughput=not options["no_throughput"],
            connections=options["connections"],
            duration=options["duration"],
            warmup=options["warmup"],
        )
        if settings.connections < 1 or settings.duration <= 0 or settings.warmup < 0:
            raise CommandError(
                "--connections must be 1 or more, --duration more than 0, --warmup 0 or more."
            )
        oracle = load_oracle()
        if oracle is None:
            self.stdout.write("The raw-SQL oracle (tests/) is not installed: no ratio.")
        self.stdout.write(f"Measuring on {environment()}.")
        results = []
        for index, projects in enumerate(scales):
            if index:
                # Only what this command generated: it found the database empty.
                clear_portfolio()
            try:
                result = run_scale(projects, settings, oracle=oracle, write=self.stdout.write)
            except BenchError as exc:
                raise CommandError(str(exc)) from exc
            results.append(result)
            self.stdout.write("\n".join(report_scale(result)))
            self.stdout.write("")
        self.stdout.write("\n".join(report_summary(results)))
