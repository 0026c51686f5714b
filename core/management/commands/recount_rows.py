"""manage.py recount_rows: count the tables counted as they are written again (core.counts)."""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection

from core import counts


class Command(BaseCommand):
    help = (
        "Count the projects and features tables again and keep those counts (PostgreSQL): after "
        "loading rows with triggers off (pg_restore --disable-triggers, replication) or a "
        "loaddata of a dump that already held the counts. Writes to them wait meanwhile."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write(
                "Nothing to do: only PostgreSQL keeps counts (SQLite counts each time)."
            )
            return
        for table, total in counts.recount().items():
            self.stdout.write(f"{table}: {total:,} rows")
