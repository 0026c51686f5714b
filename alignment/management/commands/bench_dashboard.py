"""Time the sponsor's pages on a large portfolio built in a transaction that is rolled back.

    python manage.py bench_dashboard               # 1,000 projects, 3 features each
    python manage.py bench_dashboard --projects 5000 --repeat 5

Nothing is kept: the portfolio, its flags and snapshots vanish with the rollback. Run it
against a scratch database if other processes are writing to the same one (SQLite locks the
file for the duration).
"""

from __future__ import annotations

import statistics
import time
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alignment import views
from goals.models import BusinessGoal, GoalStatus
from projects.models import CRMProject, Feature, FeatureLink, ProjectLink, ProjectStatus
from strategies.models import BusinessStrategy, CRMStrategy, CRMStrategyServes, StrategyStatus

PAGES = [
    ("dashboard", views.dashboard_view, "alignment:dashboard"),
    ("strategy map", views.map_view, "alignment:map"),
    ("matrix", views.matrix_view, "alignment:matrix"),
    ("flag inbox", views.flag_list, "alignment:flags"),
]
STATUSES = [
    ProjectStatus.PROPOSED,
    ProjectStatus.APPROVED,
    ProjectStatus.ACTIVE,
    ProjectStatus.ACTIVE,
    ProjectStatus.ON_HOLD,
    ProjectStatus.DONE,
]


class _Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Build a large portfolio in a rolled-back transaction and time the alignment pages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--projects", type=int, default=1000)
        parser.add_argument("--features", type=int, default=3, help="Features per project.")
        parser.add_argument("--repeat", type=int, default=3, help="Renders per page.")
        parser.add_argument(
            "--no-scan", action="store_true", help="Skip the full scan (no flags, no trend)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                self._run(options)
                raise _Rollback
        except _Rollback:
            self.stdout.write("Rolled back: the database is as it was.")

    def _run(self, options: dict[str, Any]) -> None:
        started = time.perf_counter()
        user = self._portfolio(options["projects"], options["features"])
        if connection.vendor == "postgresql":
            # Rows inserted in this (never committed) transaction have no planner statistics
            # yet; real tables do, thanks to autovacuum. Without this the planner assumes empty
            # tables and the timings say nothing about production.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.stdout.write(
            f"Built {options['projects']} projects with {options['features']} features each "
            f"in {time.perf_counter() - started:.1f} s."
        )
        if not options["no_scan"]:
            from alignment import engine

            started = time.perf_counter()
            scan = engine.scan_full()
            opened = scan.opened if scan else 0
            self.stdout.write(
                f"Full scan: {opened} flags in {time.perf_counter() - started:.1f} s."
            )
        factory = RequestFactory()
        self.stdout.write(f"{'page':<14} {'queries':>7} {'median':>9} {'slowest':>9} {'size':>9}")
        for label, view, name in PAGES:
            timings = []
            queries = size = 0
            for _ in range(max(1, options["repeat"])):
                request = factory.get(reverse(name))
                request.user = user
                with CaptureQueriesContext(connection) as captured:
                    began = time.perf_counter()
                    response = view(request)
                    timings.append(time.perf_counter() - began)
                queries, size = len(captured.captured_queries), len(response.content)
            self.stdout.write(
                f"{label:<14} {queries:>7} {statistics.median(timings) * 1000:>7.0f}ms "
                f"{max(timings) * 1000:>7.0f}ms {size / 1024:>7.0f}kB"
            )

    def _portfolio(self, n_projects: int, n_features: int) -> Any:
        """A believable shape: 5 goals, 2 business strategies each, 20 CRM strategies; about
        one project in eight untraced, features mostly linked. Bulk inserts keep it quick."""
        users = get_user_model()
        tag = f"bench{int(time.time())}"
        admin = users.objects.create_superuser(f"{tag}-admin", f"{tag}@example.com", None)
        goals = BusinessGoal.objects.bulk_create(
            BusinessGoal(title=f"{tag} goal {i}", owner=admin, status=GoalStatus.ACTIVE)
            for i in range(5)
        )
        business = BusinessStrategy.objects.bulk_create(
            BusinessStrategy(
                goal=goals[i // 2],
                title=f"{tag} business strategy {i}",
                owner=admin,
                status=StrategyStatus.ACTIVE if i % 7 else StrategyStatus.DRAFT,
            )
            for i in range(10)
        )
        crm = CRMStrategy.objects.bulk_create(
            CRMStrategy(title=f"{tag} CRM strategy {i}", owner=admin, status=StrategyStatus.ACTIVE)
            for i in range(20)
        )
        CRMStrategyServes.objects.bulk_create(
            CRMStrategyServes(crm_strategy=c, business_strategy=business[i % 10])
            for i, c in enumerate(crm)
            if i != 19  # one CRM strategy anchored to nothing
        )
        projects = CRMProject.objects.bulk_create(
            CRMProject(
                title=f"{tag} project {i:05}",
                manager=admin,
                sponsor=admin if i % 10 else None,
                status=STATUSES[i % len(STATUSES)],
                budget_technology=Decimal(10_000 + (i * 37) % 90_000),
                budget_people=Decimal((i * 53) % 40_000) if i % 5 else Decimal(0),
                budget_training=Decimal((i * 11) % 9_000),
            )
            for i in range(n_projects)
        )
        ProjectLink.objects.bulk_create(
            ProjectLink(
                project=p,
                crm_strategy=crm[(i + k) % 20],
                rationale="Serves it.",
                weight=(k + 1) * 10 if i % 3 else None,
            )
            for i, p in enumerate(projects)
            if i % 8
            for k in range(1 + i % 2)
        )
        features = Feature.objects.bulk_create(
            Feature(project=p, title=f"Feature {k}", position=k)
            for p in projects
            for k in range(n_features)
        )
        FeatureLink.objects.bulk_create(
            FeatureLink(feature=f, crm_strategy=crm[i % 20], rationale="Needed.")
            for i, f in enumerate(features)
            if i % 4
        )
        return admin
