"""Helpers for the workbook tests: build a workbook from rows, read one back, count tables."""

import io
from typing import Any

import pytest
from django.apps import apps
from openpyxl import Workbook, load_workbook

from onboarding.workbook import LISTS_SHEET, README_SHEET, SHEETS


def build_workbook(rows: dict[str, list[dict[str, Any]]], *, skip: tuple[str, ...] = ()) -> bytes:
    """A workbook with every sheet's header row (but those in `skip`) and, per sheet, the rows
    given as {header: value}."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet in SHEETS:
        if sheet.name in skip:
            continue
        worksheet = workbook.create_sheet(sheet.name)
        headers = [column.header for column in sheet.columns]
        worksheet.append(headers)
        for row in rows.get(sheet.name, []):
            unknown = set(row) - set(headers)
            assert not unknown, f"{sheet.name} has no column {unknown}"
            worksheet.append([row.get(header) for header in headers])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def data_sheets(content: bytes) -> dict[str, list[tuple[Any, ...]]]:
    """Every data sheet's cells, row by row (README and the dropdown lists left out)."""
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    try:
        return {
            name: [tuple(row) for row in workbook[name].iter_rows(values_only=True)]
            for name in workbook.sheetnames
            if name not in (README_SHEET, LISTS_SHEET)
        }
    finally:
        workbook.close()


def table_counts() -> dict[str, int]:
    """The number of rows of every table of the project (and users and groups)."""
    labels = {"auth", "goals", "strategies", "projects", "alignment", "core", "onboarding"}
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in labels and model._meta.managed and not model._meta.proxy
    }


@pytest.fixture
def importer(db):
    """An executive who imports."""
    from tests.factories import UserFactory

    return UserFactory(username="importer", roles=["executive"])


SMALL = {
    "Departments": [{"Name": "Sales", "Is IT": "no"}, {"Name": "IT", "Is IT": "yes"}],
    "Goals": [
        {"Title": "Grow revenue", "Owner": "importer", "Status": "active", "Priority": "high"}
    ],
    "KPIs": [
        {"Goal": "Grow revenue", "Name": "Revenue growth", "Unit": "%", "Baseline": 2, "Target": 6}
    ],
    "KPI readings": [],
    "Business strategies": [
        {"Goal": "Grow revenue", "Title": "Win emerging markets", "Status": "active"}
    ],
    "CRM strategies": [
        {
            "Title": "Enable local partners",
            "Status": "active",
            "Serves business strategies": "Win emerging markets",
        }
    ],
    "Projects": [
        {
            "Title": "Partner portal",
            "Manager": "pm",
            "Sponsor": "sponsor",
            "Department": "Sales",
            "Status": "proposed",
            "Start date": "2026-01-01",
            "End date": "2026-12-31",
            "Budget technology": 100,
            "Budget people": 50,
        }
    ],
    "Project links": [
        {
            "Project": "Partner portal",
            "CRM strategy": "Enable local partners",
            "Rationale": "Partners register their deals through the portal",
            "Weight": 100,
        }
    ],
    "Features": [{"Project": "Partner portal", "Title": "Deal registration", "Priority": "must"}],
    "Feature links": [
        {
            "Project": "Partner portal",
            "Feature": "Deal registration",
            "CRM strategy": "Enable local partners",
            "Rationale": "Registered deals are how partners are credited",
        }
    ],
    "Success metrics": [
        {"Project": "Partner portal", "Name": "Partner revenue", "Baseline": 1, "Target": 5}
    ],
    "Roadmap": [{"Project": "Partner portal", "Name": "Pilot", "Kind": "phase"}],
    "Check-ins": [
        {"Project": "Partner portal", "Checked in on": "2026-01-15", "Summary": "Kick-off done"}
    ],
}
