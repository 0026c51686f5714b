"""One sheet as CSV: chosen by the file's name, or by its header row."""

import io

import pytest

from goals.models import BusinessGoal
from onboarding.importer import import_workbook
from projects.models import CRMProject, Department

pytestmark = pytest.mark.django_db


def csv_import(text: str, filename: str, actor, dry_run=False):
    return import_workbook(
        io.BytesIO(text.encode("utf-8-sig")), filename=filename, actor=actor, dry_run=dry_run
    )


def test_a_csv_named_after_its_sheet_imports_that_sheet(importer):
    report = csv_import(
        "Title*,Status,Priority,Horizon start\n"
        "Grow revenue,active,high,2026-01-01\n"
        "Keep customers,draft,,\n",
        "Goals.csv",
        importer,
    )
    assert report.errors == [] and report.applied
    assert report.created == {"Goals": 2}
    assert BusinessGoal.objects.get(title="Grow revenue").priority == 1
    assert BusinessGoal.objects.get(title="Keep customers").owner == importer


def test_a_csv_is_matched_to_its_sheet_by_the_header_row(importer):
    report = csv_import("Name;Is IT\nSales;no\nIT;yes\n", "export (3).csv", importer)
    assert report.errors == []
    assert dict(Department.objects.values_list("name", "is_it")) == {"Sales": False, "IT": True}


def test_a_csv_of_projects_checks_references_against_the_database(importer):
    report = csv_import(
        "Title,Manager,Department\nPortal,importer,Nowhere\n", "projects.csv", importer
    )
    messages = {(p.sheet, p.row, p.column): p.message for p in report.errors}
    assert set(messages) == {("Projects", 2, "Manager"), ("Projects", 2, "Department")}
    assert "project manager role" in messages[("Projects", 2, "Manager")]
    assert not CRMProject.objects.exists()


def test_a_csv_that_matches_no_sheet_says_how_to_name_it(importer):
    report = csv_import("Colour,Size\nblue,3\n", "data.csv", importer)
    assert len(report.errors) == 1
    assert "name the file after the sheet" in report.errors[0].message
    assert report.errors[0].row == 1
