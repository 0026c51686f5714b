"""REST API for the portfolio workbook: export it, import one (a job: queued, then checked or
applied by a worker), and follow a job. Writes go through onboarding.jobs; who may do what is
core.permissions, as on the pages."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotAcceptable, PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import permissions
from core.api_base import API_AUTHENTICATION, ERROR_RESPONSES, ApiAutoSchema
from core.renderers import JSONRenderer

from . import jobs
from .models import ImportJob, JobState

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook_response(*, actor: Any, filename: str = "portfolio.xlsx") -> HttpResponse:
    """The portfolio workbook as a download: everything the actor may read."""
    from .export import XLSX_CONTENT_TYPE, write_workbook

    response = HttpResponse(content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    write_workbook(response, actor=actor)
    return response


class PortfolioExportView(APIView):
    """The whole portfolio the caller may read, as the XLSX workbook the import reads (one
    sheet per kind, a README sheet explaining every column). Every role may export."""

    authentication_classes = API_AUTHENTICATION
    schema = ApiAutoSchema()

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # Errors are JSON; the workbook itself is sent as it is. A client that accepts only
        # the workbook's type is served (its errors still come as JSON).
        try:
            return super().perform_content_negotiation(request, force)
        except NotAcceptable:
            if XLSX in request.META.get("HTTP_ACCEPT", ""):
                return JSONRenderer(), JSONRenderer.media_type
            raise

    @extend_schema(
        operation_id="portfolio_export",
        responses={(200, XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="The workbook.")},
    )
    def get(self, request: Request) -> HttpResponse:
        if not permissions.can_read(request.user):
            raise PermissionDenied("You have no role in this portfolio.")
        return workbook_response(actor=request.user)


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="An XLSX workbook in the export's format, or a CSV file of one of its sheets."
    )
    dry_run = serializers.BooleanField(
        default=False,
        help_text="true: only check the file and report every problem; nothing is written.",
    )

    def validate_file(self, upload: Any) -> Any:
        from django.core.exceptions import ValidationError

        try:
            jobs.check_upload(upload)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["file"]) from None
        return upload


class ImportStartedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=JobState.choices)


class ImportRequestView(APIView):
    """Upload a workbook (multipart field `file`; `dry_run=true` to only check it). The job is
    queued (202) and runs on a worker: poll /api/portfolio/imports/{id}/ for its progress and
    report. Executives and admins may import. A file that is not an XLSX workbook or a CSV,
    is empty or too large is refused at once (400 naming `file`); problems inside it are the
    job's report."""

    authentication_classes = API_AUTHENTICATION
    parser_classes = [MultiPartParser]
    schema = ApiAutoSchema()
    accepts_upload = True  # core.middleware: the body may be as large as UPLOAD_MAX_BYTES

    @extend_schema(
        operation_id="portfolio_import",
        request={"multipart/form-data": ImportRequestSerializer},
        responses={202: ImportStartedSerializer, 503: ERROR_RESPONSES["503"]},
    )
    def post(self, request: Request) -> Response:
        # Who may is answered before what was sent is judged (403 before 400 or 415).
        if not permissions.can_import_portfolio(request.user):
            raise PermissionDenied(jobs.IMPORT_REFUSAL)
        data = ImportRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = jobs.start_import(
            actor=request.user,
            upload=data.validated_data["file"],
            dry_run=data.validated_data["dry_run"],
            site_url=request.build_absolute_uri("/").rstrip("/"),
        )
        job.refresh_from_db(fields=["state"])
        return Response({"id": job.pk, "state": job.state}, status=status.HTTP_202_ACCEPTED)


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(source="progress_done")
    total = serializers.IntegerField(source="progress_total")


class ProblemSerializer(serializers.Serializer):
    sheet = serializers.CharField()
    row = serializers.IntegerField(allow_null=True)
    column = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class ImportJobSerializer(serializers.ModelSerializer):
    """A job's state and, once done, its report. `errors` and `warnings` hold at most 1000
    problems each (`errors_total`, `warnings_total` count all); `failure` says why a job
    failed without a report (nothing of its file was written)."""

    progress = ProgressSerializer(source="*")
    created = serializers.DictField(child=serializers.IntegerField())
    updated = serializers.DictField(child=serializers.IntegerField())
    # DRF's metaclass takes declared fields off the class, so this does not hide `.errors`.
    errors = ProblemSerializer(many=True)  # type: ignore[assignment]
    warnings = ProblemSerializer(many=True)
    people_invited = serializers.ListField(child=serializers.CharField())
    scan = serializers.IntegerField(source="scan_id", allow_null=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "state",
            "dry_run",
            "filename",
            "progress",
            "created",
            "updated",
            "errors",
            "errors_total",
            "warnings",
            "warnings_total",
            "people_invited",
            "applied",
            "scan",
            "created_at",
            "started_at",
            "finished_at",
            "failure",
        ]
        read_only_fields = fields


class ImportJobDetailView(generics.RetrieveAPIView):
    """An import job's progress (rows done of total) and, once done, its report. Only the
    person who started it and admins see a job (404 for anyone else)."""

    authentication_classes = API_AUTHENTICATION
    schema = ApiAutoSchema()
    serializer_class = ImportJobSerializer

    def get_queryset(self) -> Any:
        return jobs.jobs_of(self.request.user)
