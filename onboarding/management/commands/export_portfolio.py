"""Write the portfolio workbook (or the template, or the demo) to a file."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from onboarding.export import write_demo_workbook, write_template, write_workbook


class Command(BaseCommand):
    help = (
        "Write the whole portfolio as the onboarding workbook (XLSX). --template writes the "
        "empty template, --demo the demo portfolio."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The .xlsx file to write.")
        parser.add_argument(
            "--as",
            dest="username",
            help="Export what this user may read (default: the first active admin).",
        )
        kind = parser.add_mutually_exclusive_group()
        kind.add_argument("--template", action="store_true", help="The empty template.")
        kind.add_argument("--demo", action="store_true", help="The demo portfolio.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        with open(path, "wb") as out:
            if options["template"]:
                write_template(out)
            elif options["demo"]:
                write_demo_workbook(out)
            else:
                write_workbook(out, actor=self._actor(options["username"]))
        self.stdout.write(self.style.SUCCESS(f"Wrote {path}."))

    def _actor(self, username: str | None) -> Any:
        users = get_user_model().objects.filter(is_active=True)
        actor = (
            users.filter(username=username).first()
            if username
            else users.filter(is_superuser=True).order_by("pk").first()
        )
        if actor is None:
            raise CommandError(
                f"No active user “{username}”." if username else "No active admin: use --as."
            )
        return actor

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
