"""The board report in real Chromium: a sponsor presses the dashboard's Board report button and
gets the PDF as a download; for a large portfolio the button leads to the job's page, which
polls until the pack is made and then offers the PDF."""

import pytest
from playwright.sync_api import expect

from tests.factories import GoalFactory, ProjectFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_dashboard_button_downloads_the_board_pack(page, live_server, login, sponsor):
    GoalFactory(title="Grow revenue in the north")
    ProjectFactory(title="Partner portal", sponsor=sponsor, status="proposed")
    login(sponsor)
    page.goto(f"{live_server.url}/alignment/")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Board report", exact=True).click()
    download = download_info.value

    assert download.suggested_filename.startswith("board-pack-")
    with open(download.path(), "rb") as pdf:
        assert pdf.read(4) == b"%PDF"


def test_a_large_portfolio_shows_the_jobs_page_then_the_pdf(
    page, live_server, login, executive, settings
):
    settings.REPORTS_BOARD_PACK_SYNC_MAX_PROJECTS = 0
    ProjectFactory(title="Partner portal", status="proposed")
    login(executive)
    page.goto(f"{live_server.url}/alignment/")

    page.get_by_role("link", name="Board report", exact=True).click()

    # Tasks run in-process here: the job is made by the time its page shows.
    expect(page.get_by_role("heading", name="Your board pack is ready")).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the PDF").click()
    with open(download_info.value.path(), "rb") as pdf:
        assert pdf.read(4) == b"%PDF"
