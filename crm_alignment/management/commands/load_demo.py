"""Load the demo portfolio (seed example plus projects) and print the demo logins."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm_alignment.demo import DEMO_LOGINS, DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = (
        "Load the demo portfolio: the seed goal, strategies, about a dozen CRM projects with "
        "features, and one login per role. Safe to run again: existing objects are kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Load even with DJANGO_DEBUG off (a production-like deployment).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The demo logins (a superuser among them) share one password printed in the README:
        # loaded into a production database by mistake, they would be an open door.
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "Refusing to load the demo data with DJANGO_DEBUG off: it creates logins, a "
                "superuser among them, with a published password. Use --force for a "
                "demonstration deployment, then change or remove those logins."
            )
        result = load_demo()
        if result.created_total:
            made = ", ".join(
                f"{count} {kind.replace('_', ' ')}" for kind, count in result.created.items()
            )
            self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {made}."))
        else:
            self.stdout.write("Demo data already loaded; nothing to create.")
        if result.refreshed_check_ins:
            self.stdout.write(
                f"Recorded {result.refreshed_check_ins} fresh check-in(s) so healthy demo "
                "projects do not look stalled."
            )
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for login in DEMO_LOGINS:
            self.stdout.write(f"  {login.username:<10} {login.role}")
