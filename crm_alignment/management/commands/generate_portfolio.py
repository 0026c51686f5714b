"""Generate a synthetic portfolio of any size (crm_alignment.portfolio) for benchmarks."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm_alignment.portfolio import Shape, generate_portfolio, has_portfolio


class Command(BaseCommand):
    help = (
        "Generate a deterministic synthetic portfolio — goals, strategies, people in every "
        "role, projects, features, metrics, roadmaps, check-ins — with every alignment rule's "
        "condition in a realistic mix. Meant for a scratch database (point DATABASE_URL at "
        "one): it refuses a database that already has projects unless --append."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--projects", type=int, required=True, help="How many projects.")
        parser.add_argument(
            "--features-per-project", type=int, default=10, help="Features of each project."
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="Same seed, same portfolio (default 1)."
        )
        parser.add_argument(
            "--append",
            action="store_true",
            help="Add a second portfolio next to the projects already in the database.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Generate even with DJANGO_DEBUG off (a production-like deployment).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        check_may_generate(append=options["append"], force=options["force"])
        if options["projects"] < 1 or options["features_per_project"] < 0:
            raise CommandError("--projects must be 1 or more, --features-per-project 0 or more.")
        shape = Shape(
            projects=options["projects"],
            features_per_project=options["features_per_project"],
            seed=options["seed"],
        )
        result = generate_portfolio(shape)
        made = ", ".join(f"{count:,} {kind}" for kind, count in result.counts.items())
        self.stdout.write(self.style.SUCCESS(f"Generated in {result.seconds:.1f} s: {made}."))
        self.stdout.write(
            f"An executive: {result.executive_username} (generated people have no password; "
            "set one with `manage.py changepassword` to sign in)."
        )


def check_may_generate(*, append: bool, force: bool) -> None:
    """Refuse what would mix fake data into real data: a production-like deployment without
    --force, a database with projects without --append."""
    if not settings.DEBUG and not force:
        raise CommandError(
            "Refusing to generate a synthetic portfolio with DJANGO_DEBUG off: it writes "
            "thousands of fake projects and people. Point DATABASE_URL at a scratch database, "
            "or use --force."
        )
    if not append and has_portfolio():
        raise CommandError(
            "Refusing to generate: this database already has projects. Point DATABASE_URL at "
            "an empty scratch database, or use --append to add a second portfolio."
        )
