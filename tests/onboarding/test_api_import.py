"""The import API: who may start a job (executives and admins), what is refused at once with a
message naming `file` (and starts no job), and who sees a job (its creator and admins)."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from onboarding.models import ImportJob, JobState
from tests.factories import UserFactory
from tests.tokens import token_for

from .uploads import CSV, NOT_WORKBOOKS, upload

pytestmark = pytest.mark.django_db

IMPORT_URL = "/api/portfolio/import/"


def _client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


def _detail(pk) -> str:
    return reverse("api:portfolio-import-detail", kwargs={"pk": pk})


def test_the_routes_are_where_the_api_documents_them():
    assert reverse("api:portfolio-import") == IMPORT_URL
    assert reverse("api:portfolio-export") == "/api/portfolio/export/"
    assert _detail(7) == "/api/portfolio/imports/7/"


def test_an_executive_uploads_a_file_and_gets_a_queued_job(
    executive, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = _client(executive).post(
            IMPORT_URL,
            {"file": upload("goals.csv", CSV, "text/csv"), "dry_run": "true"},
            format="multipart",
        )

    assert response.status_code == 202, response.data
    job = ImportJob.objects.get()
    assert response.data == {"id": job.pk, "state": "queued"}
    assert (job.created_by, job.filename, job.dry_run) == (executive, "goals.csv", True)
    assert bytes(job.content) == CSV and job.size == len(CSV)
    assert len(queued) == 1  # handed to the task queue once the upload is committed


def test_without_dry_run_the_file_is_imported(admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = _client(admin_user).post(
            IMPORT_URL, {"file": upload("goals.csv", CSV)}, format="multipart"
        )

    assert response.status_code == 202
    assert ImportJob.objects.get().dry_run is False


def test_a_path_in_the_file_name_is_dropped(executive, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        _client(executive).post(
            IMPORT_URL, {"file": upload("..\\..\\secret\\goals.csv", CSV)}, format="multipart"
        )

    assert ImportJob.objects.get().filename == "goals.csv"


@pytest.mark.parametrize("persona", ["viewer", "pm", "sponsor", "nobody"])
def test_other_roles_may_not_import(persona, request):
    user = request.getfixturevalue(persona)

    response = _client(user).post(IMPORT_URL, {"file": upload("g.csv", CSV)}, format="multipart")

    assert response.status_code == 403
    assert "executives and admins" in response.data["detail"]
    assert not ImportJob.objects.exists()


def test_an_anonymous_client_is_asked_to_authenticate():
    response = _client().post(IMPORT_URL, {"file": upload("g.csv", CSV)}, format="multipart")

    assert response.status_code == 401
    assert not ImportJob.objects.exists()


def test_a_request_without_the_file_field_names_it(executive):
    response = _client(executive).post(IMPORT_URL, {"dry_run": "true"}, format="multipart")

    assert response.status_code == 400
    assert list(response.data) == ["file"]
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("case", sorted(NOT_WORKBOOKS))
def test_a_file_that_is_no_workbook_is_refused_with_a_message_on_file(executive, case):
    name, content, words = NOT_WORKBOOKS[case]

    response = _client(executive).post(
        IMPORT_URL, {"file": upload(name, content)}, format="multipart"
    )

    assert response.status_code == 400, response.data
    assert list(response.data) == ["file"]
    assert words in str(response.data["file"][0])
    assert not ImportJob.objects.exists()


def test_a_file_over_the_limit_is_refused_naming_the_field(executive, settings):
    settings.UPLOAD_MAX_BYTES = 1000

    response = _client(executive).post(
        IMPORT_URL, {"file": upload("big.csv", b"title\n" + b"a" * 1200)}, format="multipart"
    )

    assert response.status_code == 400
    assert "larger than the limit" in response.data["file"][0]
    assert not ImportJob.objects.exists()


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(executive, settings):
    """The middleware answers from Content-Length, naming the field, without parsing."""
    settings.UPLOAD_MAX_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000

    response = _client(executive).post(
        IMPORT_URL, {"file": upload("big.csv", b"title\n" + b"a" * 5000)}, format="multipart"
    )

    assert response.status_code == 400
    assert response.json() == {
        "file": [
            "The file is larger than the limit of 1000 bytes. Split the workbook, or send one "
            "sheet at a time as CSV."
        ]
    }
    assert not ImportJob.objects.exists()


def test_a_large_upload_is_allowed_only_where_files_are_taken(executive, settings):
    """Elsewhere a body over DATA_UPLOAD_MAX_MEMORY_SIZE is still refused as before."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000

    response = _client(executive).post(
        "/api/goals/", {"file": upload("big.csv", b"a" * 5000)}, format="multipart"
    )

    assert response.status_code == 400
    assert "request body is larger" in response.json()["detail"]


def test_a_json_body_is_an_unsupported_media_type(executive):
    response = _client(executive).post(IMPORT_URL, {"file": "goals.csv"}, format="json")

    assert response.status_code == 415


def test_dry_run_must_be_true_or_false(executive):
    response = _client(executive).post(
        IMPORT_URL, {"file": upload("g.csv", CSV), "dry_run": "maybe"}, format="multipart"
    )

    assert response.status_code == 400
    assert list(response.data) == ["dry_run"]


# --- Following a job


def _done_job(user, **fields):
    values = {
        "created_by": user,
        "filename": "portfolio.xlsx",
        "content": b"PK",
        "size": 2,
        "dry_run": True,
        "state": JobState.DONE,
        "progress_done": 12,
        "progress_total": 12,
        "total_rows": 12,
        "created": {"goals": 2, "projects": 3},
        "updated": {"goals": 1},
        "errors": [{"sheet": "Projects", "row": 4, "column": "status", "message": "Unknown."}],
        "errors_total": 1,
        "warnings": [{"sheet": "Goals", "row": None, "column": "colour", "message": "Ignored."}],
        "warnings_total": 1,
        "people_invited": ["new.manager"],
    }
    return ImportJob.objects.create(**(values | fields))


def test_the_creator_reads_the_progress_and_the_report(executive):
    job = _done_job(executive)

    response = _client(executive).get(_detail(job.pk))

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("id", "state", "dry_run", "progress")} == {
        "id": job.pk,
        "state": "done",
        "dry_run": True,
        "progress": {"done": 12, "total": 12},
    }
    assert body["created"] == {"goals": 2, "projects": 3}
    assert body["updated"] == {"goals": 1}
    assert body["errors"] == [
        {"sheet": "Projects", "row": 4, "column": "status", "message": "Unknown."}
    ]
    assert body["warnings"][0]["row"] is None
    assert body["people_invited"] == ["new.manager"]
    assert "content" not in body


def test_a_running_job_shows_rows_done_of_total(executive):
    job = _done_job(executive, state=JobState.RUNNING, progress_done=40, progress_total=100)

    body = _client(executive).get(_detail(job.pk)).json()

    assert (body["state"], body["progress"]) == ("running", {"done": 40, "total": 100})


@pytest.mark.parametrize("persona", ["viewer", "pm", "sponsor", "nobody"])
def test_someone_elses_job_is_not_found(executive, persona, request):
    job = _done_job(executive)

    response = _client(request.getfixturevalue(persona)).get(_detail(job.pk))

    assert response.status_code == 404


def test_another_executive_does_not_see_the_job_but_an_admin_does(executive, admin_user):
    job = _done_job(executive)
    other = UserFactory(username="exec-two", roles=["executive"])

    assert _client(other).get(_detail(job.pk)).status_code == 404
    assert _client(admin_user).get(_detail(job.pk)).status_code == 200


def test_reading_a_job_costs_the_same_whatever_its_report(executive, django_assert_max_num_queries):
    small = _done_job(executive)
    problems = [
        {"sheet": "Projects", "row": n, "column": "status", "message": "Unknown status."}
        for n in range(1000)
    ]
    large = _done_job(executive, errors=problems, errors_total=5000)
    client = _client(executive)
    client.get(_detail(small.pk))

    with django_assert_max_num_queries(3):
        assert client.get(_detail(small.pk)).status_code == 200
    with django_assert_max_num_queries(3):
        response = client.get(_detail(large.pk))
    assert len(response.json()["errors"]) == 1000
    assert response.json()["errors_total"] == 5000
