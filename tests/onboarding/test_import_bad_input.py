"""Bad files answer with a clear report entry, never an exception, and write nothing."""

import copy
import io
import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from onboarding.importer import import_workbook
from onboarding.workbook import MAX_ROWS
from projects.models import CRMProject
from tests.factories import UserFactory

from .conftest import SMALL, build_workbook, table_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    UserFactory(username="pm", roles=["project_manager"])
    UserFactory(username="sponsor", roles=["sponsor"])


def attempt(content: bytes, actor, filename="p.xlsx", dry_run=False):
    before = table_counts()
    report = import_workbook(io.BytesIO(content), filename=filename, actor=actor, dry_run=dry_run)
    assert table_counts() == before, "nothing may be written"
    assert not report.applied
    return report


def only_message(report) -> str:
    assert len(report.errors) == 1, [p.as_dict() for p in report.errors]
    return report.errors[0].message


def test_a_file_that_is_not_a_workbook(importer):
    report = attempt(b"%PDF-1.7 this is a pdf", importer)
    assert "not an Excel workbook (.xlsx) or a CSV file" in only_message(report)


def test_a_password_protected_workbook(importer):
    # An encrypted XLSX is an OLE2 compound file, not a zip.
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    report = attempt(ole, importer)
    assert "password-protected" in only_message(report)


def test_a_zip_that_is_not_a_workbook_and_a_truncated_workbook(importer):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hello")
    assert "damaged" in only_message(attempt(out.getvalue(), importer))
    whole = build_workbook(SMALL)
    assert "damaged" in only_message(attempt(whole[: len(whole) // 2], importer))


def test_a_missing_sheet(importer, people):
    report = attempt(build_workbook(SMALL, skip=("Roadmap",)), importer)
    problem = report.errors[0]
    assert (problem.sheet, problem.row, problem.column) == ("Roadmap", None, None)
    assert "The sheet “Roadmap” is missing" in problem.message


def test_a_missing_required_column(importer, people):
    content = build_workbook(SMALL)
    workbook = load_workbook(io.BytesIO(content))
    workbook["Projects"]["C1"] = "Boss"  # was Manager
    out = io.BytesIO()
    workbook.save(out)
    report = attempt(out.getvalue(), importer)
    assert {(p.sheet, p.row, p.column) for p in report.errors} == {("Projects", 1, "Manager")}
    assert "required column “Manager” is missing" in report.errors[0].message
    assert [(w.sheet, w.column) for w in report.warnings] == [("Projects", "Boss")]


def test_a_formula_instead_of_a_value(importer, people):
    rows = copy.deepcopy(SMALL)
    rows["Projects"][0]["Budget people"] = "=B2*2"
    report = attempt(build_workbook(rows), importer)
    assert {(p.sheet, p.row, p.column) for p in report.errors} == {("Projects", 2, "Budget people")}
    assert "formula" in report.errors[0].message and "Values" in report.errors[0].message


def test_a_million_rows_is_refused_before_reading_them(importer):
    workbook = Workbook()
    workbook.active.title = "Goals"
    workbook["Goals"].append(["Title"])
    workbook["Goals"].cell(row=1_000_001, column=1, value="The last of a million")
    out = io.BytesIO()
    workbook.save(out)
    report = attempt(out.getvalue(), importer)
    message = " ".join(p.message for p in report.errors)
    assert "1,000,000 rows" in message and f"at most {MAX_ROWS:,}" in message


def test_a_cell_of_a_hundred_thousand_characters(importer, people):
    # An XLSX cell holds at most 32,767 characters (openpyxl cuts there); a CSV has no limit.
    rows = copy.deepcopy(SMALL)
    rows["Projects"][0]["Description"] = "x" * 100_000
    report = attempt(build_workbook(rows), importer)
    assert {(p.sheet, p.row, p.column) for p in report.errors} == {("Projects", 2, "Description")}
    assert "takes at most 10,000" in report.errors[0].message
    csv = "Title,Manager,Description\nPortal,pm," + "y" * 100_000 + "\n"
    report = attempt(csv.encode(), importer, filename="projects.csv")
    assert {(p.sheet, p.row, p.column) for p in report.errors} == {("Projects", 2, "Description")}
    assert "100,000 characters" in report.errors[0].message


def test_an_extra_unknown_column_is_a_warning_and_the_import_goes_ahead(importer, people):
    content = build_workbook(SMALL)
    workbook = load_workbook(io.BytesIO(content))
    workbook["Goals"].cell(row=1, column=20, value="Colour")
    workbook["Goals"].cell(row=2, column=20, value="blue")
    workbook.create_sheet("My notes")
    out = io.BytesIO()
    workbook.save(out)
    report = import_workbook(out, filename="p.xlsx", actor=importer, dry_run=False)
    assert report.errors == [] and report.applied
    assert {(w.sheet, w.row, w.column) for w in report.warnings} == {
        ("Goals", 1, "Colour"),
        ("My notes", None, None),
    }
    assert CRMProject.objects.count() == 1


def test_an_empty_file_and_text_that_is_not_csv(importer):
    assert "not an Excel workbook" in only_message(attempt(b"", importer))
    report = attempt(b"\x00\x01\x02", importer, filename="goals.csv")
    assert "not a CSV file" in only_message(report)


def test_a_wrong_value_in_a_typed_column_names_what_to_type(importer, people):
    rows = copy.deepcopy(SMALL)
    rows["Projects"][0].update({"Start date": "next spring", "Budget process": "1.250,00"})
    rows["Project links"][0]["Weight"] = 250
    report = attempt(build_workbook(rows), importer)
    messages = {(p.sheet, p.row, p.column): p.message for p in report.errors}
    assert "YYYY-MM-DD" in messages[("Projects", 2, "Start date")]
    assert "not a number" in messages[("Projects", 2, "Budget process")]
    assert "type 1 to 100" in messages[("Project links", 2, "Weight")]


def test_a_workbook_that_unpacks_to_more_than_the_limit_is_refused_unread(importer, monkeypatch):
    from onboarding import reading

    monkeypatch.setattr(reading, "MAX_UNPACKED_BYTES", 10_000)
    report = attempt(build_workbook(SMALL), importer)
    assert "unpacks to" in only_message(report)


def test_a_file_larger_than_the_limit_is_refused_unread(importer, monkeypatch):
    from onboarding import reading

    monkeypatch.setattr(reading, "MAX_FILE_BYTES", 1000)
    report = attempt(build_workbook(SMALL), importer)
    assert "larger than" in only_message(report)
