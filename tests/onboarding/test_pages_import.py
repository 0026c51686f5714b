"""The Import page, a job's page, "Apply this file", the home page's "Start from a spreadsheet"
and the navigation; who may open them is in tests/web/test_page_matrix.py."""

import re

import pytest
from django.urls import reverse

from onboarding.models import ImportJob, JobState
from tests.factories import GoalFactory, UserFactory

from .uploads import CSV, NOT_WORKBOOKS, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_user(client):
    """as_user(user) → the test client signed in as that user."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


IMPORT = "/import/"


def _job(user, **fields):
    values = {
        "created_by": user,
        "filename": "portfolio.xlsx",
        "content": b"PK\x03\x04 stored bytes",
        "size": 20,
        "dry_run": True,
    }
    return ImportJob.objects.create(**(values | fields))


def _problems():
    return [
        {"sheet": "Projects", "row": 9, "column": "status", "message": "Unknown status “ongoing”."},
        {"sheet": "Goals", "row": 3, "column": "title", "message": "A goal needs a title."},
        {"sheet": "Projects", "row": 2, "column": "budget_people", "message": "Negative."},
        {"sheet": "Goals", "row": None, "column": None, "message": "The sheet is empty."},
    ]


def test_the_import_page_offers_the_template_the_demo_and_the_two_actions(as_user, executive):
    page = as_user(executive).get(IMPORT).content.decode()

    assert reverse("onboarding:import") == IMPORT
    assert 'enctype="multipart/form-data"' in page
    assert reverse("onboarding:template") in page and reverse("onboarding:demo") in page
    assert 'name="action" value="check"' in page and 'name="action" value="import"' in page


@pytest.mark.parametrize(("action", "dry_run"), [("check", True), ("import", False)])
def test_check_and_import_store_the_file_and_open_the_jobs_page(
    as_user, executive, action, dry_run, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = as_user(executive).post(
            IMPORT, {"file": upload("goals.csv", CSV, "text/csv"), "action": action}
        )

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("onboarding:job", kwargs={"pk": job.pk})
    assert (job.dry_run, bytes(job.content), job.created_by) == (dry_run, CSV, executive)
    assert len(queued) == 1


def test_sending_no_file_says_to_choose_one(as_user, executive):
    response = as_user(executive).post(IMPORT, {"action": "check"})

    assert response.status_code == 200
    assert "Choose a file to upload" in response.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("case", sorted(NOT_WORKBOOKS))
def test_a_file_that_is_no_workbook_is_explained_on_the_field(as_user, executive, case):
    name, content, words = NOT_WORKBOOKS[case]

    response = as_user(executive).post(IMPORT, {"file": upload(name, content), "action": "check"})

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_file_error"' in page
    assert words in page
    assert not ImportJob.objects.exists()


def test_a_file_over_the_limit_is_explained(as_user, executive, settings):
    settings.UPLOAD_MAX_BYTES = 1000

    response = as_user(executive).post(
        IMPORT, {"file": upload("big.csv", b"title\n" + b"a" * 1500), "action": "check"}
    )

    assert response.status_code == 200
    assert "larger than the limit of 1000 bytes" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_body_far_over_the_limit_is_refused_in_words_before_it_is_read(
    as_user, executive, settings
):
    settings.UPLOAD_MAX_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000

    response = as_user(executive).post(
        IMPORT, {"file": upload("big.csv", b"a" * 6000), "action": "check"}
    )

    assert response.status_code == 400
    assert "larger than the limit of 1000 bytes" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_import_page_lists_my_recent_files_only(as_user, executive, admin_user):
    mine = _job(executive, filename="mine.xlsx")
    _job(admin_user, filename="the-admins.xlsx")

    page = as_user(executive).get(IMPORT).content.decode()

    assert "mine.xlsx" in page and reverse("onboarding:job", kwargs={"pk": mine.pk}) in page
    assert "the-admins.xlsx" not in page


def test_the_recent_files_cost_the_same_for_2_and_10_jobs(
    as_user, executive, django_assert_max_num_queries
):
    client = as_user(executive)
    for n in range(2):
        _job(executive, filename=f"small-{n}.xlsx")
    client.get(IMPORT)
    with django_assert_max_num_queries(8) as small:
        client.get(IMPORT)
    for n in range(8):
        _job(executive, filename=f"more-{n}.xlsx", content=b"x" * 100_000)
    with django_assert_max_num_queries(len(small.captured_queries)) as large:
        page = client.get(IMPORT).content.decode()
    assert page.count("more-") == 8
    # The stored bytes stay in the database: the list reads no file.
    assert not any("content" in q["sql"] and "SELECT" in q["sql"] for q in large.captured_queries)


# --- A job's page


def test_a_queued_job_shows_a_progress_bar_that_polls_its_status(as_user, executive):
    job = _job(executive, state=JobState.RUNNING, progress_done=250, progress_total=1000)

    page = as_user(executive).get(reverse("onboarding:job", kwargs={"pk": job.pk})).content.decode()

    status_url = reverse("onboarding:job_status", kwargs={"pk": job.pk})
    assert f'hx-get="{status_url}"' in page
    assert 'data-poll-seconds="1"' in page and 'hx-trigger="poll"' in page
    assert '<progress id="job-progress-bar" max="1000" value="250">' in page
    assert "250 of 1000 rows" in page
    assert "<script>" not in page  # CSP: polling comes from static/js/poll.js


def test_the_status_fragment_shows_rows_done_until_the_job_ends(as_user, executive):
    job = _job(executive, state=JobState.RUNNING, progress_done=40, progress_total=100)
    client = as_user(executive)
    url = reverse("onboarding:job_status", kwargs={"pk": job.pk})

    running = client.get(url, headers={"HX-Request": "true"})
    assert "40 of 100 rows" in running.content.decode()

    ImportJob.objects.filter(pk=job.pk).update(state=JobState.DONE)
    ended = client.get(url, headers={"HX-Request": "true"})
    assert ended.status_code == 204
    assert ended["HX-Refresh"] == "true"


def _error_rows(page: str) -> list[list[str]]:
    table = page.split('id="job-errors"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    ]


def test_the_report_is_a_table_sorted_by_sheet_then_row_then_column(as_user, executive):
    job = _job(executive, state=JobState.DONE, errors=_problems(), errors_total=4, total_rows=9)

    page = as_user(executive).get(reverse("onboarding:job", kwargs={"pk": job.pk})).content.decode()

    rows = _error_rows(page)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("Goals", "", ""),
        ("Goals", "3", "title"),
        ("Projects", "2", "budget_people"),
        ("Projects", "9", "status"),
    ]
    assert "4 errors to fix; nothing was written" in page
    assert "Apply this file" not in page


@pytest.mark.parametrize(
    ("ordering", "first"),
    [("-row", ("Projects", "9")), ("column", ("Goals", "")), ("-sheet", ("Projects", "9"))],
)
def test_the_report_sorts_by_the_column_asked_for(as_user, executive, ordering, first):
    job = _job(executive, state=JobState.DONE, errors=_problems(), errors_total=4)
    url = reverse("onboarding:job", kwargs={"pk": job.pk})

    rows = _error_rows(as_user(executive).get(f"{url}?ordering={ordering}").content.decode())

    assert (rows[0][0], rows[0][1]) == first
    assert len(rows) == 4


def test_an_unknown_sort_falls_back_to_the_sheet(as_user, executive):
    job = _job(executive, state=JobState.DONE, errors=_problems(), errors_total=4)
    url = reverse("onboarding:job", kwargs={"pk": job.pk})

    response = as_user(executive).get(f"{url}?ordering=message%00")

    assert response.status_code in (200, 400)  # a NUL is refused before the view
    response = as_user(executive).get(f"{url}?ordering=message")
    assert _error_rows(response.content.decode())[0][0] == "Goals"


def test_a_failed_job_says_why_without_a_traceback(as_user, executive):
    job = _job(executive, state=JobState.FAILED, failure="Stopped: its worker was lost.")

    page = as_user(executive).get(reverse("onboarding:job", kwargs={"pk": job.pk})).content.decode()

    assert "The job failed" in page and "Stopped: its worker was lost." in page
    assert "Traceback" not in page


def test_a_clean_check_offers_to_apply_the_file(as_user, executive):
    job = _job(
        executive,
        state=JobState.DONE,
        total_rows=5,
        created={"goals": 2, "projects": 3},
        people_invited=["new.manager"],
    )

    page = as_user(executive).get(reverse("onboarding:job", kwargs={"pk": job.pk})).content.decode()

    assert "The file is ready to import" in page
    assert reverse("onboarding:apply", kwargs={"pk": job.pk}) in page
    assert "Apply this file" in page
    assert "new.manager" in page
    assert re.search(r"<th scope=\"row\">projects</th><td class=\"num\">3</td>", page)


def test_applying_a_clean_check_starts_an_import_of_the_same_bytes(
    as_user, executive, django_capture_on_commit_callbacks
):
    checked = _job(executive, state=JobState.DONE, total_rows=5)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = as_user(executive).post(reverse("onboarding:apply", kwargs={"pk": checked.pk}))

    applied = ImportJob.objects.exclude(pk=checked.pk).get()
    assert response["Location"] == reverse("onboarding:job", kwargs={"pk": applied.pk})
    assert applied.dry_run is False and applied.checked_by == checked
    assert bytes(applied.content) == bytes(checked.content)
    assert (applied.filename, applied.state) == ("portfolio.xlsx", JobState.QUEUED)
    assert len(queued) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"state": JobState.DONE, "errors_total": 1},  # a check with errors
        {"state": JobState.RUNNING},  # not finished
        {"state": JobState.FAILED},
        {"state": JobState.DONE, "dry_run": False},  # already an import
    ],
)
def test_only_a_finished_clean_check_can_be_applied(as_user, executive, fields):
    job = _job(executive, **fields)

    response = as_user(executive).post(reverse("onboarding:apply", kwargs={"pk": job.pk}))

    assert response.status_code == 302
    assert ImportJob.objects.count() == 1
    page = as_user(executive).get(response["Location"]).content.decode()
    assert "Only a finished check without errors can be applied" in page


# --- Home and navigation


def test_an_empty_installation_offers_to_start_from_a_spreadsheet(as_user, executive):
    page = as_user(executive).get("/").content.decode()

    assert 'id="start-from-spreadsheet"' in page
    assert f'href="{IMPORT}">Start from a spreadsheet</a>' in page
    assert reverse("onboarding:template") in page


def test_a_viewer_of_an_empty_installation_is_told_who_imports(as_user, viewer):
    page = as_user(viewer).get("/").content.decode()

    assert 'id="start-from-spreadsheet"' in page
    assert f'href="{IMPORT}"' not in page
    assert "An executive or an administrator imports the workbook" in page


def test_a_portfolio_with_goals_does_not_offer_it_on_the_home_page(as_user, executive):
    GoalFactory()

    assert 'id="start-from-spreadsheet"' not in as_user(executive).get("/").content.decode()


def test_the_navigation_links_the_import_page_for_executives_and_admins_only(
    as_user, executive, admin_user, pm, sponsor, viewer
):
    link = f'href="{IMPORT}"'
    GoalFactory()  # not empty: the home page's own link is not shown
    for user, shown in [
        (executive, True),
        (admin_user, True),
        (pm, False),
        (sponsor, False),
        (viewer, False),
    ]:
        page = as_user(user).get(reverse("goals:list")).content.decode()
        assert (link in page) is shown, user


def test_a_job_of_someone_else_is_not_found_even_for_an_executive(as_user, executive):
    job = _job(UserFactory(username="exec-two", roles=["executive"]))

    for name in ("onboarding:job", "onboarding:job_status"):
        assert as_user(executive).get(reverse(name, kwargs={"pk": job.pk})).status_code == 404


def test_the_admin_lists_jobs_read_only_without_reading_their_files(
    as_user, admin_user, executive, django_assert_max_num_queries
):
    job = _job(executive, filename="listed.xlsx", content=b"x" * 50_000)
    client = as_user(admin_user)

    with django_assert_max_num_queries(20) as listing:
        page = client.get("/admin/onboarding/importjob/").content.decode()
    assert "listed.xlsx" in page
    assert not any('"content"' in q["sql"] for q in listing.captured_queries)

    detail = client.get(f"/admin/onboarding/importjob/{job.pk}/change/")
    assert detail.status_code == 200
    assert 'name="filename"' not in detail.content.decode()  # read-only
    assert client.get("/admin/onboarding/importjob/add/").status_code == 403
