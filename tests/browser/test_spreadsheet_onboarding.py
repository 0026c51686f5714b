"""Start from a spreadsheet, in real Chromium: an executive of an empty installation fills the
template (downloaded nowhere: written here with openpyxl from the template the app offers),
uploads it on the Import page, checks it, applies it, watches the job finish and sees the
alignment dashboard with flags."""

import io
import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from onboarding.export import write_template
from onboarding.models import ImportJob
from projects.models import CRMProject

pytestmark = pytest.mark.django_db(transaction=True)

GOAL = "Grow revenue while maintaining profit margin"
BUSINESS_STRATEGY = "Protect revenue in mature markets"
CRM_STRATEGY = "Break down the silos between sales and service"
PORTFOLIO = {
    "Departments": [{"Name": "Sales", "Is IT": "no"}],
    "Goals": [{"Title": GOAL, "Owner": "exec", "Status": "active", "Priority": "high"}],
    "Business strategies": [{"Goal": GOAL, "Title": BUSINESS_STRATEGY, "Status": "active"}],
    "CRM strategies": [
        {"Title": CRM_STRATEGY, "Status": "active", "Serves business strategies": BUSINESS_STRATEGY}
    ],
    "Projects": [
        {
            "Title": "Key account cockpit",
            "Manager": "pm",
            "Sponsor": "sponsor",
            "Department": "Sales",
            "Status": "proposed",
            "Budget technology": 200,
            "Budget people": 80,
        },
        {
            # Linked to nothing, managed by someone who has no account yet.
            "Title": "Chatbot pilot",
            "Manager": "dana.new",
            "Department": "Sales",
            "Status": "proposed",
            "Budget technology": 50,
        },
    ],
    "Project links": [
        {
            "Project": "Key account cockpit",
            "CRM strategy": CRM_STRATEGY,
            "Rationale": "One view of each top account for sales and service alike",
        }
    ],
}


def _filled_template() -> bytes:
    """The app's own template, its example rows replaced by the small portfolio above."""
    out = io.BytesIO()
    write_template(out)
    workbook = load_workbook(io.BytesIO(out.getvalue()))
    for name in workbook.sheetnames:
        sheet = workbook[name]
        if name not in PORTFOLIO and name not in {"README", "Lists"}:
            sheet.delete_rows(2, sheet.max_row)
        if name not in PORTFOLIO:
            continue
        # The template marks required columns with "*".
        headers = [str(cell.value).rstrip("*") for cell in sheet[1]]
        sheet.delete_rows(2, sheet.max_row)
        for row in PORTFOLIO[name]:
            assert set(row) <= set(headers), (name, set(row) - set(headers))
            sheet.append([row.get(header) for header in headers])
    filled = io.BytesIO()
    workbook.save(filled)
    return filled.getvalue()


def test_an_executive_starts_from_the_template_and_sees_the_dashboard_with_flags(
    page, live_server, login, screenshot, executive, pm, sponsor
):
    login(executive)
    page.goto(f"{live_server.url}/")
    start = page.locator("#start-from-spreadsheet")
    expect(start).to_be_visible()
    start.get_by_role("link", name="Start from a spreadsheet").click()
    expect(page.get_by_role("heading", name="Start from a spreadsheet", level=1)).to_be_visible()

    # Nothing chosen: the field says so.
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#id_file_error")).to_contain_text("Choose a file to upload")

    page.get_by_label("Workbook or CSV file").set_input_files(
        {
            "name": "our-portfolio.xlsx",
            "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "buffer": _filled_template(),
        }
    )
    page.get_by_role("button", name="Check").click()

    # The check: what would change, nothing written yet.
    expect(page.get_by_role("heading", name="The file is ready to import")).to_be_visible(
        timeout=60_000
    )
    expect(page.locator("#job-state")).to_have_text("Done")
    expect(page.locator("#job-counts")).to_contain_text("Projects")
    expect(page.locator("#job-people")).to_contain_text("dana.new")
    assert not CRMProject.objects.exists()
    screenshot("spreadsheet-check")

    page.get_by_role("button", name="Apply this file").click()
    # The job page follows the import until it ends (the bar polls while it runs).
    expect(page.get_by_role("heading", name="Imported", exact=True)).to_be_visible(timeout=60_000)
    job = ImportJob.objects.filter(dry_run=False).get()
    assert job.applied and job.progress_done == job.progress_total > 0
    assert CRMProject.objects.count() == 2

    page.get_by_role("link", name="See the alignment dashboard").click()
    expect(page).to_have_url(re.compile(r"/alignment/$"))
    flags = page.locator('[data-figure="flags"] .figure__value')
    expect(flags).not_to_have_text("0")
    expect(page.get_by_text("Open flags by rule")).to_be_visible()
    screenshot("spreadsheet-dashboard")

    page.goto(f"{live_server.url}/alignment/flags/?rule=project.untraced")
    expect(page.locator("#flag-inbox")).to_contain_text("Chatbot pilot")


# --- With a real worker (PostgreSQL + Redis): the page follows the running job.


@pytest.fixture
def worker(tmp_path):
    from tests.integration.conftest import Worker, require_services

    require_services()
    started = Worker(tmp_path / "worker.log")
    started.wait_ready()
    yield started
    started.stop()


@pytest.fixture
def queue():
    """A queue of this test's own (tests/integration/conftest.py's `own_queue`)."""
    import uuid

    from crm_alignment.celery import app as celery_app
    from tests.integration.conftest import _forget_routing

    old = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = f"onboarding-browser-{uuid.uuid4().hex[:12]}"
    _forget_routing()
    yield
    celery_app.conf.task_default_queue = old
    _forget_routing()


@pytest.mark.services
@pytest.mark.postgres
def test_the_job_page_shows_the_rows_done_while_a_worker_imports_and_then_the_report(
    page, live_server, login, executive, pm, sponsor, queue, worker
):
    import psycopg
    from django.db import connection

    from goals.models import BusinessGoal, Priority
    from tests.integration.conftest import _database_url, wait_for

    # The workbook raises this goal's priority; while the test holds the goal's row lock, the
    # import waits inside its transaction, so the page is seen mid-way.
    BusinessGoal.objects.create(title=GOAL, owner=executive, priority=Priority.LOW)
    login(executive)
    page.goto(f"{live_server.url}/import/")
    page.get_by_label("Workbook or CSV file").set_input_files(
        {
            "name": "our-portfolio.xlsx",
            "mimeType": "application/octet-stream",
            "buffer": _filled_template(),
        }
    )
    blocker = psycopg.connect(_database_url().replace("postgres://", "postgresql://", 1))
    try:
        with blocker.cursor() as cursor:
            cursor.execute("SELECT id FROM goals_businessgoal FOR UPDATE")

        page.get_by_role("button", name="Import", exact=True).click()

        def waiting() -> bool:
            # A connection of its own: pg_stat_activity is read once per transaction.
            with (
                psycopg.connect(blocker.info.dsn, password=blocker.info.password) as monitor,
                monitor.cursor() as cursor,
            ):
                cursor.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE datname = %s "
                    "AND wait_event_type = 'Lock' AND query ILIKE '%%goals_businessgoal%%'",
                    [connection.settings_dict["NAME"]],
                )
                return cursor.fetchone() is not None

        wait_for(waiting, worker=worker, what="the import to wait inside its writes")
        expect(page.locator("#job-progress-bar")).to_be_visible()
        expect(page.locator("#job-progress label")).to_contain_text(
            re.compile(r"[1-9]\d* of \d+ rows")
        )
        # The bar shows the rows done so far (polled while the page is open).
        expect(page.locator("#job-progress-bar")).not_to_have_attribute("value", "0")
    finally:
        blocker.rollback()
        blocker.close()

    # Polling sees the end and reloads the page, which shows the report.
    expect(page.get_by_role("heading", name="Imported", exact=True)).to_be_visible(timeout=60_000)
    assert BusinessGoal.objects.get().priority == Priority.HIGH
    expect(page.get_by_role("link", name="See the alignment dashboard")).to_be_visible()
