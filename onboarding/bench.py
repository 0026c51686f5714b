"""A generated workbook of about N rows for `manage.py bench_import`: a believable portfolio
(goals, KPIs, strategies, departments; then per project one link, two features with a link
each, a metric, a roadmap phase and a check-in), written in openpyxl's streaming mode.

Titles carry a tag, so two runs into one database import two portfolios side by side.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from openpyxl import Workbook

from core.roles import Role

from .workbook import SHEETS

# Rows a project brings: itself, a link, 2 features, 2 feature links, a metric, a phase and a
# check-in.
ROWS_PER_PROJECT = 9
BENCH_EMAIL_DOMAIN = "bench-import.invalid"


def bench_people(tag: str) -> dict[str, list[str]]:
    """Active project managers and sponsors for the generated projects (created if missing)."""
    user_model = get_user_model()
    found: dict[str, list[str]] = {}
    for role, count in ((Role.PROJECT_MANAGER, 20), (Role.SPONSOR, 5)):
        group = Group.objects.get(name=role.value)
        names = [f"bench-{tag}-{role.value}-{n}" for n in range(count)]
        for name in names:
            user, created = user_model.objects.get_or_create(
                username=name, defaults={"email": f"{name}@{BENCH_EMAIL_DOMAIN}"}
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
                user.groups.add(group)
        found[role.value] = names
    return found


def _sheet_rows(rows: int, tag: str, people: dict[str, list[str]]) -> dict[str, Iterator[Any]]:
    projects = max(1, rows // ROWS_PER_PROJECT)
    goals = max(1, projects // 500)
    today = datetime.date.today()
    managers, sponsors = people[Role.PROJECT_MANAGER.value], people[Role.SPONSOR.value]
    departments = [f"{tag} Sales", f"{tag} Service", f"{tag} Marketing", f"{tag} IT"]

    def goal(g: int) -> str:
        return f"{tag} Goal {g:04d}"

    def bs(g: int, n: int) -> str:
        return f"{tag} Business strategy {g:04d}-{n}"

    def crm(g: int, n: int) -> str:
        return f"{tag} CRM strategy {g:04d}-{n}"

    def project(p: int) -> str:
        return f"{tag} Project {p:06d}"

    def strategy_of(p: int) -> str:
        return crm(p % goals, p % 2)

    return {
        "Departments": ([d, "yes" if d.endswith("IT") else "no"] for d in departments),
        "Goals": ([goal(g), "", None, "active", "medium", None, None] for g in range(goals)),
        "KPIs": ([goal(g), "Revenue growth", "%", 2, 6, 3, "increase", None] for g in range(goals)),
        "KPI readings": (
            [goal(g), "Revenue growth", today - datetime.timedelta(days=30), 3, ""]
            for g in range(goals)
        ),
        "Business strategies": (
            [goal(g), bs(g, n), "", "", None, "active"] for g in range(goals) for n in range(2)
        ),
        "CRM strategies": (
            [crm(g, n), "", "", "", "", "", None, "active", bs(g, n)]
            for g in range(goals)
            for n in range(2)
        ),
        "Projects": (
            [
                project(p),
                "",
                managers[p % len(managers)],
                sponsors[p % len(sponsors)],
                None,
                departments[p % len(departments)],
                "proposed",
                today,
                today + datetime.timedelta(days=365),
                100000 + p,
                20000,
                10000,
                5000,
                0,
                "",
            ]
            for p in range(projects)
        ),
        "Project links": (
            [project(p), strategy_of(p), "Serves this CRM strategy directly", None]
            for p in range(projects)
        ),
        "Features": (
            [project(p), f"Feature {f}", "", "should", "proposed", f]
            for p in range(projects)
            for f in range(2)
        ),
        "Feature links": (
            [project(p), f"Feature {f}", strategy_of(p), "Needed by this CRM strategy", None]
            for p in range(projects)
            for f in range(2)
        ),
        "Success metrics": ([project(p), "Adoption", "%", 10, 80, None] for p in range(projects)),
        "Roadmap": (
            [project(p), "Roll-out", "phase", today, today + datetime.timedelta(days=90), 0]
            for p in range(projects)
        ),
        "Check-ins": ([project(p), today, "on_track", "Started"] for p in range(projects)),
    }


def write_bench_workbook(path: Path, *, rows: int, tag: str) -> int:
    """Write a workbook of about `rows` data rows to `path`; how many it holds."""
    people = bench_people(tag)
    workbook = Workbook(write_only=True)
    workbook.create_sheet("README").append(["A generated portfolio for bench_import."])
    written = 0
    sources = _sheet_rows(rows, tag, people)
    for sheet in SHEETS:
        worksheet = workbook.create_sheet(sheet.name)
        worksheet.append([column.heading for column in sheet.columns])
        for row in sources.get(sheet.name, []):
            worksheet.append(row)
            written += 1
    workbook.save(path)
    return written
