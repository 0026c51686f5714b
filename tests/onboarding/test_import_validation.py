"""A dry run reports every problem at once — sheet, row, column and what to do — and writes
nothing; with any problem, a real import writes nothing either."""

import copy
import io

import pytest

from onboarding.importer import import_workbook
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    GoalFactory,
    UserFactory,
)

from .conftest import SMALL, build_workbook, table_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    UserFactory(username="pm", roles=["project_manager"])
    UserFactory(username="sponsor", roles=["sponsor"])
    UserFactory(username="viewer", roles=["viewer"])


def with_one_error_of_every_kind() -> dict:
    rows = copy.deepcopy(SMALL)
    rows["Goals"] += [
        {"Title": None, "Status": "active"},  # row 3: missing title
        {"Title": "Keep customers", "Status": "ongoing"},  # row 4: unknown status
        {"Title": "GROW REVENUE", "Status": "active"},  # row 5: duplicate key
    ]
    rows["KPIs"].append(
        {"Goal": "Grow revenue", "Name": "Margin", "Baseline": 30, "Target": 30}  # row 3
    )
    rows["Projects"] += [
        {  # row 3: dates out of order
            "Title": "Dialler",
            "Manager": "pm",
            "Start date": "2026-06-01",
            "End date": "2026-01-31",
        },
        {"Title": "Mobile app", "Manager": "pm", "Budget training": -5},  # row 4: negative
        {"Title": "Social pilot", "Manager": "viewer"},  # row 5: may not hold the role
    ]
    rows["Project links"] += [
        {  # row 3: CRM strategy in neither the workbook nor the database
            "Project": "Dialler",
            "CRM strategy": "Telesales lead factory",
            "Rationale": "The dialler feeds the telesales lead factory",
        },
        {  # row 4: no real rationale
            "Project": "Mobile app",
            "CRM strategy": "Enable local partners",
            "Rationale": "CRM",
        },
    ]
    return rows


def where(report) -> set[tuple[str, int | None, str | None]]:
    return {(p.sheet, p.row, p.column) for p in report.errors}


def test_a_dry_run_reports_one_error_of_every_kind_with_its_place_and_writes_nothing(
    importer, people
):
    content = build_workbook(with_one_error_of_every_kind())
    before = table_counts()
    report = import_workbook(io.BytesIO(content), filename="p.xlsx", actor=importer, dry_run=True)
    assert table_counts() == before
    assert not report.applied
    messages = {(p.sheet, p.row, p.column): p.message for p in report.errors}
    assert where(report) == {
        ("Goals", 3, "Title"),
        ("Goals", 4, "Status"),
        ("Goals", 5, "Title"),
        ("KPIs", 3, "Target"),
        ("Projects", 3, "End date"),
        ("Projects", 4, "Budget training"),
        ("Projects", 5, "Manager"),
        ("Project links", 3, "CRM strategy"),
        ("Project links", 4, "Rationale"),
    }, messages
    assert "fill it in" in messages[("Goals", 3, "Title")]
    assert "not one of draft, active, achieved, retired" in messages[("Goals", 4, "Status")]
    assert "Duplicate key: row 2" in messages[("Goals", 5, "Title")]
    assert "target equals the baseline" in messages[("KPIs", 3, "Target")]
    assert "before the start" in messages[("Projects", 3, "End date")]
    assert "cannot be negative" in messages[("Projects", 4, "Budget training")]
    assert "need the project manager role" in messages[("Projects", 5, "Manager")]
    assert (
        "no CRM strategy “Telesales lead factory”" in messages[("Project links", 3, "CRM strategy")]
    )
    assert "too short to be a rationale" in messages[("Project links", 4, "Rationale")]
    # The report is plain data for the API.
    assert report.errors[0].as_dict().keys() == {"sheet", "row", "column", "message"}


def test_the_same_workbook_imported_for_real_writes_nothing(importer, people):
    content = build_workbook(with_one_error_of_every_kind())
    before = table_counts()
    report = import_workbook(io.BytesIO(content), filename="p.xlsx", actor=importer, dry_run=False)
    assert len(report.errors) == 9
    assert not report.applied and report.scan_id is None
    assert table_counts() == before


def test_an_error_in_the_last_row_of_the_last_sheet_writes_nothing(importer, people):
    rows = copy.deepcopy(SMALL)
    rows["Check-ins"].append(
        {"Project": "Partner portal", "Checked in on": "2999-01-01", "Summary": "From the future"}
    )
    before = table_counts()
    report = import_workbook(
        io.BytesIO(build_workbook(rows)), filename="p.xlsx", actor=importer, dry_run=False
    )
    assert where(report) == {("Check-ins", 3, "Checked in on")}
    assert "in the future" in report.errors[0].message
    assert table_counts() == before


def test_a_new_link_to_a_strategy_already_retired_is_refused_but_kept_ones_stay(importer, people):
    goal = GoalFactory(title="Old goal", status="active")
    bs = BusinessStrategyFactory(goal=goal, title="Old way", status="retired")
    CRMStrategyFactory(title="Old CRM", status="retired")
    rows = copy.deepcopy(SMALL)
    rows["CRM strategies"][0]["Serves business strategies"] = "Win emerging markets; Old way"
    rows["Project links"].append(
        {
            "Project": "Partner portal",
            "CRM strategy": "Old CRM",
            "Rationale": "The portal still serves the retired strategy",
        }
    )
    report = import_workbook(
        io.BytesIO(build_workbook(rows)), filename="p.xlsx", actor=importer, dry_run=True
    )
    assert where(report) == {
        ("CRM strategies", 2, "Serves business strategies"),
        ("Project links", 3, "CRM strategy"),
    }
    assert all("retired" in p.message for p in report.errors)
    assert bs.status == "retired"


def test_a_kpi_whose_target_is_on_the_wrong_side_of_the_baseline_is_refused(importer, people):
    rows = copy.deepcopy(SMALL)
    rows["KPIs"][0].update({"Baseline": 6, "Target": 2, "Direction": "increase"})
    report = import_workbook(
        io.BytesIO(build_workbook(rows)), filename="p.xlsx", actor=importer, dry_run=True
    )
    assert where(report) == {("KPIs", 2, "Target")}
    assert "set the direction to decrease" in report.errors[0].message


def test_references_to_rows_that_do_not_exist_name_the_sheet_to_add_them_to(importer, people):
    rows = copy.deepcopy(SMALL)
    rows["Features"].append({"Project": "No such project", "Title": "Orphan"})
    rows["Feature links"].append(
        {
            "Project": "Partner portal",
            "Feature": "No such feature",
            "CRM strategy": "Enable local partners",
            "Rationale": "It would serve the partner strategy",
        }
    )
    rows["Projects"][0]["Department"] = "Marketing"
    report = import_workbook(
        io.BytesIO(build_workbook(rows)), filename="p.xlsx", actor=importer, dry_run=True
    )
    messages = {(p.sheet, p.row, p.column): p.message for p in report.errors}
    assert set(messages) == {
        ("Features", 3, "Project"),
        ("Feature links", 3, "Feature"),
        ("Projects", 2, "Department"),
    }
    assert "add it to the Projects sheet" in messages[("Features", 3, "Project")]
    assert "of the project “Partner portal”" in messages[("Feature links", 3, "Feature")]
    assert "add it to the Departments sheet" in messages[("Projects", 2, "Department")]


def with_bad_planning_rows() -> dict:
    """The planning sheets (user groups, systems, metric readings) with one error of each kind
    they can hold, beside rows that are fine."""
    rows = copy.deepcopy(SMALL)
    rows["User groups"] = [
        {"Name": "Partner managers"},
        {"Name": "PARTNER MANAGERS"},  # row 3: the same key in another case
        {"Name": None, "Description": "nameless"},  # row 4: missing key
        {"Name": "x" * 101},  # row 5: too long
    ]
    rows["Systems"] = [{"Name": "ERP", "Owner": "pm"}, {"Name": "Billing", "Owner": "pm"}]
    rows["Project user groups"] = [
        {"Project": "Partner portal", "User group": "Partner managers"},
        {"Project": "Partner portal", "User group": "Service agents"},  # row 3: unknown group
        {"Project": "Dialler", "User group": "Partner managers"},  # row 4: unknown project
    ]
    rows["Project systems"] = [
        {"Project": "Partner portal", "System": "ERP", "Status": "designed"},
        {"Project": "Partner portal", "System": "Warehouse", "Status": "designed"},  # row 3
        {"Project": "Partner portal", "System": "Billing", "Status": "in_progress"},  # row 4
        {"Project": "Partner portal", "System": "erp", "Status": "built"},  # row 5: duplicate
    ]
    reading = {"Project": "Partner portal", "Metric": "Partner revenue"}
    rows["Metric readings"] = [
        {**reading, "Recorded on": "2026-03-31", "Value": 2},
        {**reading, "Metric": "Churn", "Recorded on": "2026-03-31", "Value": 2},  # row 3
        {**reading, "Recorded on": "2999-01-01", "Value": 2},  # row 4: in the future
        {**reading, "Recorded on": "2026-04-30", "Value": "lots"},  # row 5: not a number
        {**reading, "Recorded on": "2026-03-31", "Value": 3},  # row 6: the same day again
    ]
    return rows


def test_the_planning_sheets_report_every_bad_row_and_a_real_import_writes_nothing(
    importer, people
):
    content = build_workbook(with_bad_planning_rows())
    before = table_counts()
    report = import_workbook(io.BytesIO(content), filename="p.xlsx", actor=importer, dry_run=True)
    messages = {(p.sheet, p.row, p.column): p.message for p in report.errors}
    assert set(messages) == {
        ("User groups", 3, "Name"),
        ("User groups", 4, "Name"),
        ("User groups", 5, "Name"),
        ("Project user groups", 3, "User group"),
        ("Project user groups", 4, "Project"),
        ("Project systems", 3, "System"),
        ("Project systems", 4, "Status"),
        ("Project systems", 5, "Project"),
        ("Metric readings", 3, "Metric"),
        ("Metric readings", 4, "Recorded on"),
        ("Metric readings", 5, "Value"),
        ("Metric readings", 6, "Project"),
    }, messages
    assert "Duplicate key: row 2" in messages[("User groups", 3, "Name")]
    assert "fill it in" in messages[("User groups", 4, "Name")]
    assert "at most 100" in messages[("User groups", 5, "Name")]
    assert (
        "no user group “Service agents”" in messages[("Project user groups", 3, "User group")]
        and "add it to the User groups sheet" in messages[("Project user groups", 3, "User group")]
    )
    assert "no project “Dialler”" in messages[("Project user groups", 4, "Project")]
    assert "add it to the Systems sheet" in messages[("Project systems", 3, "System")]
    assert (
        "not one of not_started, designed, built, tested, live"
        in messages[("Project systems", 4, "Status")]
    )
    assert "Duplicate key: row 2" in messages[("Project systems", 5, "Project")]
    assert (
        "no metric “Churn” of the project “Partner portal”"
        in messages[("Metric readings", 3, "Metric")]
    )
    assert "in the future" in messages[("Metric readings", 4, "Recorded on")]
    assert "“lots” is not a number" in messages[("Metric readings", 5, "Value")]
    assert "Duplicate key: row 2" in messages[("Metric readings", 6, "Project")]
    assert table_counts() == before

    report = import_workbook(io.BytesIO(content), filename="p.xlsx", actor=importer, dry_run=False)
    assert len(report.errors) == 12 and not report.applied
    assert table_counts() == before
