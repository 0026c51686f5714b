"""REST API of the board pack: get it (a PDF at once for a small portfolio, else 202 and a job),
follow a job, download its PDF. Who may is reports.pack / reports.jobs, as on the pages."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotAcceptable
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_base import API_AUTHENTICATION, ERROR_RESPONSES, ApiAutoSchema
from core.renderers import JSONRenderer

from . import jobs
from .models import JobState, ReportJob

PDF = "application/pdf"


def pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type=PDF)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


class PdfNegotiation:
    """Errors are JSON; the PDF is sent as it is. A client that accepts only PDF is served."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        try:
            return super().perform_content_negotiation(request, force)  # type: ignore[misc]
        except NotAcceptable:
            if PDF in request.META.get("HTTP_ACCEPT", ""):
                return JSONRenderer(), JSONRenderer.media_type
            raise


class ReportStartedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=JobState.choices)
    url = serializers.CharField(help_text="The job's address in the API: poll it.")


def _job_url(request: Request, job: ReportJob) -> str:
    return request.build_absolute_uri(reverse("api:report-job-detail", kwargs={"pk": job.pk}))


class BoardPackView(PdfNegotiation, APIView):
    """The caller's board pack (executives, sponsors, admins; 403 for other roles). Made at
    once (200, the PDF) for a portfolio of at most REPORTS_BOARD_PACK_SYNC_MAX_PROJECTS live
    projects; for a larger one a job is queued (202): poll /api/reports/jobs/{id}/ and download
    its PDF once done."""

    authentication_classes = API_AUTHENTICATION
    schema = ApiAutoSchema()

    @extend_schema(
        operation_id="reports_board_pack",
        responses={
            (200, PDF): OpenApiResponse(OpenApiTypes.BINARY, description="The board pack."),
            202: ReportStartedSerializer,
            503: ERROR_RESPONSES["503"],
        },
    )
    def get(self, request: Request) -> HttpResponse:
        made = jobs.board_pack_or_job(actor=request.user)
        if made.pdf is not None:
            return pdf_response(made.pdf, made.filename)
        assert made.job is not None
        made.job.refresh_from_db(fields=["state"])
        return Response(
            {"id": made.job.pk, "state": made.job.state, "url": _job_url(request, made.job)},
            status=status.HTTP_202_ACCEPTED,
        )


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(source="progress_done")
    total = serializers.IntegerField(source="progress_total")


class ReportJobSerializer(serializers.ModelSerializer):
    """A board-pack job: its state and progress (sections made of total), why it failed
    (`failure`), and once done where to download the PDF (`pdf_url`)."""

    progress = ProgressSerializer(source="*")
    pdf_url = serializers.SerializerMethodField()

    class Meta:
        model = ReportJob
        fields = [
            "id",
            "state",
            "progress",
            "scope",
            "size",
            "created_at",
            "started_at",
            "finished_at",
            "failure",
            "pdf_url",
        ]
        read_only_fields = fields

    def get_pdf_url(self, job: ReportJob) -> str | None:
        if job.state != JobState.DONE:
            return None
        request = self.context["request"]
        return str(request.build_absolute_uri(reverse("api:report-job-pdf", kwargs={"pk": job.pk})))


class ReportJobDetailView(generics.RetrieveAPIView):
    """A board-pack job of yours (404 for anyone else's)."""

    authentication_classes = API_AUTHENTICATION
    schema = ApiAutoSchema()
    serializer_class = ReportJobSerializer

    def get_queryset(self) -> Any:
        return jobs.jobs_of(self.request.user)


class ReportJobPdfView(PdfNegotiation, APIView):
    """A done job's PDF, for the person who asked for it only (404 for anyone else); 409 while
    the job has not made it (still running, or failed: see the job's `failure`)."""

    authentication_classes = API_AUTHENTICATION
    schema = ApiAutoSchema()

    @extend_schema(
        operation_id="reports_job_pdf",
        responses={
            (200, PDF): OpenApiResponse(OpenApiTypes.BINARY, description="The board pack."),
            409: ERROR_RESPONSES["409"],
        },
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        job, pdf = jobs.pdf_of(request.user, pk)
        if pdf is None:
            return Response(
                {"detail": f"The board pack is not made: the job is {job.get_state_display()}."},
                status=status.HTTP_409_CONFLICT,
            )
        return pdf_response(pdf, job.filename or "board-pack.pdf")
