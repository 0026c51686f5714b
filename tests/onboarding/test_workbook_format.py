"""The workbook's format: a README sheet explaining every column, a dropdown on every status,
choice, reference and person column, a template that imports as it is, and export for every
role that reads."""

import io

import pytest
from django.core.exceptions import PermissionDenied
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from onboarding.export import write_template, write_workbook
from onboarding.importer import import_workbook
from onboarding.workbook import (
    CHOICE,
    PERSON,
    REFERENCE,
    SHEETS,
    YES_NO,
    sheet_for_file_name,
    sheet_for_headers,
)
from tests.factories import ProjectFactory

from .conftest import data_sheets, table_counts

pytestmark = pytest.mark.django_db


def template() -> bytes:
    out = io.BytesIO()
    write_template(out)
    return out.getvalue()


def test_the_readme_sheet_explains_every_column_of_every_sheet():
    workbook = load_workbook(io.BytesIO(template()))
    assert workbook.sheetnames[0] == "README"
    explained = {
        (row[0], row[1])
        for row in workbook["README"].iter_rows(min_row=5, values_only=True)
        if row[1]
    }
    expected = {(sheet.name, column.header) for sheet in SHEETS for column in sheet.columns}
    assert explained == expected
    assert workbook["Lists"].sheet_state == "hidden"


def test_every_status_choice_reference_and_person_column_has_a_dropdown():
    workbook = load_workbook(io.BytesIO(template()))
    for sheet in SHEETS:
        validated = {
            str(area).split(":")[0].rstrip("0123456789")
            for validation in workbook[sheet.name].data_validations.dataValidation
            for area in validation.sqref.ranges
        }
        for index, column in enumerate(sheet.columns, start=1):
            if column.kind in (CHOICE, YES_NO, REFERENCE, PERSON):
                assert get_column_letter(index) in validated, (sheet.name, column.header)


def test_the_status_dropdowns_offer_exactly_the_statuses():
    workbook = load_workbook(io.BytesIO(template()))
    projects = workbook["Projects"]
    status = next(
        v for v in projects.data_validations.dataValidation if str(v.sqref).startswith("G2")
    )
    column = status.formula1.split("!")[1].split(":")[0].replace("$", "").rstrip("0123456789")
    offered = [
        row[0]
        for row in workbook["Lists"].iter_rows(
            min_col=workbook["Lists"][f"{column}1"].column,
            max_col=workbook["Lists"][f"{column}1"].column,
            min_row=2,
            values_only=True,
        )
        if row[0]
    ]
    assert offered == ["proposed", "approved", "active", "on_hold", "done", "cancelled"]


def test_the_template_has_one_example_row_per_sheet_and_imports_as_it_is(executive):
    sheets = data_sheets(template())
    assert all(len(rows) == 2 for rows in sheets.values()), {k: len(v) for k, v in sheets.items()}
    before = table_counts()
    report = import_workbook(
        io.BytesIO(template()), filename="template.xlsx", actor=executive, dry_run=True
    )
    assert report.errors == [], [p.as_dict() for p in report.errors]
    assert report.created == {sheet.name: 1 for sheet in SHEETS}
    assert table_counts() == before


def test_every_role_that_reads_may_export_and_someone_without_a_role_may_not(viewer, nobody):
    ProjectFactory(title="Visible to all")
    out = io.BytesIO()
    write_workbook(out, actor=viewer)
    assert data_sheets(out.getvalue())["Projects"][1][:1] == ("Visible to all",)
    with pytest.raises(PermissionDenied):
        write_workbook(io.BytesIO(), actor=nobody)


def test_a_csv_file_name_or_header_row_names_its_sheet():
    assert sheet_for_file_name("Project links.csv").name == "Project links"
    assert sheet_for_file_name("C:\\exports\\project_links.CSV").name == "Project links"
    assert sheet_for_file_name("portfolio.csv") is None
    assert sheet_for_headers(["Project*", "CRM strategy", "Rationale"]).name == "Project links"
    assert sheet_for_headers(["Project", "Feature", "CRM strategy", "Rationale"]).name == (
        "Feature links"
    )
    assert sheet_for_headers(["Anything"]) is None


def test_text_that_looks_like_a_formula_is_exported_as_text_not_run(viewer):
    ProjectFactory(title='=HYPERLINK("http://evil.example","click")')
    out = io.BytesIO()
    write_workbook(out, actor=viewer)
    cell = load_workbook(io.BytesIO(out.getvalue()))["Projects"]["A2"]
    assert cell.value.startswith("=HYPERLINK") and cell.data_type == "s"
