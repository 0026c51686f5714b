"""Import a portfolio workbook (or one sheet as CSV) from a file, as a given user."""

import time
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from onboarding.importer import import_workbook


class Command(BaseCommand):
    help = (
        "Import a portfolio workbook (.xlsx) or one sheet as CSV, as an executive or admin: "
        "every problem is listed with sheet, row and column, and then nothing is written. "
        "--dry-run only checks."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The .xlsx or .csv file.")
        parser.add_argument("--as", dest="username", required=True, help="Who imports.")
        parser.add_argument("--dry-run", action="store_true", help="Check only; write nothing.")
        parser.add_argument(
            "--site-url",
            default="",
            help="Where invitations to new people point, e.g. https://crm.example.com.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        actor = get_user_model().objects.filter(username=options["username"]).first()
        if actor is None or not actor.is_active:
            raise CommandError(f"No active user “{options['username']}”.")
        started = time.monotonic()
        try:
            report = import_workbook(
                path,
                filename=path.name,
                actor=actor,
                dry_run=options["dry_run"],
                site_url=options["site_url"],
            )
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        for problem in report.errors:
            self.stderr.write(self._line("error", problem))
        for problem in report.warnings:
            self.stdout.write(self._line("warning", problem))
        for label, counts in (("created", report.created), ("updated", report.updated)):
            if counts:
                made = ", ".join(f"{n} {kind}" for kind, n in counts.items())
                verb = f"would be {label}" if not report.applied else label
                self.stdout.write(f"{verb.capitalize()}: {made}.")
        if report.people_invited:
            self.stdout.write(
                "People created inactive (invited to set a password): "
                + ", ".join(report.people_invited)
            )
        seconds = time.monotonic() - started
        if report.errors:
            raise CommandError(
                f"{len(report.errors)} problem(s) in {report.total_rows} rows; nothing written."
            )
        if report.applied:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Imported {report.total_rows} rows in {seconds:.1f} s; scan {report.scan_id}."
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(f"Dry run: {report.total_rows} rows checked, no problems.")
            )

    @staticmethod
    def _line(kind: str, problem: Any) -> str:
        where = problem.sheet
        if problem.row is not None:
            where += f" row {problem.row}"
        if problem.column:
            where += f", {problem.column}"
        return f"{kind}: {where}: {problem.message}"
