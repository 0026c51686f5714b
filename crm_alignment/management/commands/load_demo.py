"""Load the demo portfolio (seed example plus projects) and print the demo logins."""

from typing import Any

from django.core.management.base import BaseCommand

from crm_alignment.demo import DEMO_LOGINS, DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = (
        "Load the demo portfolio: the seed goal, strategies, about a dozen CRM projects with "
        "features, and one login per role. Safe to run again: existing objects are kept."
    )

    def handle(self, *args: Any, **options: Any) -> None:
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
