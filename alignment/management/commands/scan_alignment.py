"""Run a full alignment scan now and print what it found."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from alignment import engine, notify
from alignment.locks import ScanBusy
from alignment.models import Snapshot
from alignment.rules import RULES
from alignment.selectors import snapshot_figures


class Command(BaseCommand):
    help = "Run every alignment rule over the whole portfolio and print a summary."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            scan = engine.scan_full()
        except ScanBusy as exc:
            raise CommandError(f"Scan skipped: {exc}.") from exc
        except (engine.ScanTimedOut, engine.DatabaseUnavailable) as exc:
            raise CommandError(f"Scan failed: {exc}") from exc
        assert scan is not None and scan.finished_at and scan.started_at
        # Now, rather than in the task the scan queued: this command runs without a worker.
        told = notify.tell_scan(scan.pk) or 0
        seconds = (scan.finished_at - scan.started_at).total_seconds()
        self.stdout.write(
            f"Scan {scan.pk} {scan.state} in {seconds:.2f} s: "
            f"{scan.opened} opened, {scan.resolved} resolved; {told} flag.opened "
            f"event{'' if told == 1 else 's'} for the projects' managers and sponsors."
        )
        width = max(len(code) for code in RULES)
        self.stdout.write(f"{'rule':<{width}}  {'open':>5} {'opened':>7} {'resolved':>9}")
        for code in RULES:
            row = scan.per_rule.get(code, {})
            self.stdout.write(
                f"{code:<{width}}  {row.get('open', 0):>5} {row.get('opened', 0):>7} "
                f"{row.get('resolved', 0):>9}"
            )
        # What the scan recorded in its snapshot: no second pass over the portfolio.
        snapshot = Snapshot.objects.filter(scan=scan).first()
        if snapshot is None:
            self.stdout.write(
                "Its figures were not recorded (the database went away after the scan "
                "committed); the periodic sweep records them."
            )
            return
        figures = snapshot_figures(snapshot)
        self.stdout.write(
            f"Alignment: {figures['projects_traced']} of {figures['projects_total']} live "
            f"projects traced ({figures['projects_traced_pct']}%), "
            f"{figures['budget_traced_pct']}% of budget, "
            f"{figures['features_traced']} of {figures['features_total']} features "
            f"({figures['features_traced_pct']}%)."
        )
