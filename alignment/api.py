"""REST API for the alignment engine: flags (read, acknowledge, waive), a project's approval,
the headline figures and scans. Reads come from alignment.selectors, writes from
alignment.services."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import permissions
from core.api_base import (
    API_AUTHENTICATION,
    ERROR_RESPONSES,
    ApiAutoSchema,
    ApiViewSet,
    CurrencyField,
    etag,
    if_match,
)
from projects.api import ProjectSerializer, project_queryset

from .filters import FlagFilterSet
from .models import Flag, Scan, ScanState


class FlagSerializer(serializers.ModelSerializer):
    """A rule's finding about one subject. Its state changes only through the actions."""

    class Meta:
        model = Flag
        fields = [
            "id",
            "rule",
            "severity",
            "subject_type",
            "subject_id",
            "subject_label",
            "project",
            "state",
            "message",
            "first_seen",
            "last_seen",
            "resolved_at",
            "acknowledged_by",
            "acknowledged_at",
            "waived_by",
            "waived_at",
            "waiver_reason",
            "waiver_expires_at",
        ]
        read_only_fields = fields


class WaiveSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
    expires_at = serializers.DateTimeField()


class BulkDecisionSerializer(serializers.Serializer):
    """Several flags decided at once: `reason` and `expires_at` are required to waive."""

    action = serializers.ChoiceField(choices=["acknowledge", "waive"])
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        allow_empty=False,
        error_messages={"empty": "Select at least one flag."},
    )
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_ids(self, ids: list[int]) -> list[int]:
        from .services import BULK_MAX

        unique = list(dict.fromkeys(ids))
        if len(unique) > BULK_MAX:
            raise serializers.ValidationError(
                f"Select at most {BULK_MAX} flags at a time ({len(unique)} were sent)."
            )
        return unique


class BulkOutcomeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="flag_id")
    status = serializers.ChoiceField(choices=["done", "refused", "not_found"])
    detail = serializers.CharField()
    flag = FlagSerializer(allow_null=True)


class BulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    done = serializers.IntegerField()
    refused = serializers.IntegerField()
    not_found = serializers.IntegerField()
    results = BulkOutcomeSerializer(many=True)


class FlagViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Flags raised by the alignment rules; by default the unresolved ones (open, acknowledged,
    waived), worst first — as the flag inbox shows them (`state=all` for every flag). Everyone
    with a role reads them; the project's sponsor, executives and admins act on them
    (alignment.access.flag_for)."""

    serializer_class = FlagSerializer
    permission_classes = [IsAuthenticated]
    filterset_class = FlagFilterSet
    search_fields = ["subject_label", "message"]

    def get_queryset(self) -> Any:
        from .selectors import flags_visible_to

        return flags_visible_to(self.request.user)

    @extend_schema(request=None, responses={200: FlagSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        """Acknowledge an open flag: seen, being dealt with."""
        from .access import flag_for
        from .services import flag_acknowledge

        flag = flag_for(request.user, pk, act=True)
        flag = flag_acknowledge(actor=request.user, flag_id=flag.pk)
        return Response(FlagSerializer(flag).data)

    @extend_schema(request=WaiveSerializer, responses={200: FlagSerializer})
    @action(detail=True, methods=["post"])
    def waive(self, request: Request, pk: str | None = None) -> Response:
        """Waive a flag until `expires_at` (in the future), saying why."""
        from .access import flag_for
        from .services import flag_waive

        # Who may is answered before what was sent is judged (404 / 403 before 400).
        flag = flag_for(request.user, pk, act=True)
        data = WaiveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        flag = flag_waive(
            actor=request.user,
            flag_id=flag.pk,
            reason=data.validated_data["reason"],
            expires_at=data.validated_data["expires_at"],
        )
        return Response(FlagSerializer(flag).data)

    @extend_schema(request=BulkDecisionSerializer, responses={200: BulkResultSerializer})
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        """Acknowledge or waive several flags (`ids`, at most 100), one `reason` and
        `expires_at` for all waivers. Decided per flag, each like a single decision: the
        results say per flag `done`, `refused` (with `detail`) or `not_found` — which is also
        the answer for a flag the user may not see. Bad input is 400 and decides nothing."""
        from .services import flags_decide_in_bulk

        data = BulkDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcomes = flags_decide_in_bulk(
            actor=request.user,
            action=data.validated_data["action"],
            flag_ids=data.validated_data["ids"],
            reason=data.validated_data.get("reason"),
            expires_at=data.validated_data.get("expires_at"),
        )
        counts = dict.fromkeys(("done", "refused", "not_found"), 0)
        for outcome in outcomes:
            counts[outcome.status] += 1
        result = {"action": data.validated_data["action"], **counts, "results": outcomes}
        return Response(BulkResultSerializer(result).data)


class ProjectApproveView(APIView):
    """Approve a proposed or on-hold project: its sponsor, an executive or an admin. Refused
    (400, the reasons under `status`) while a rule whose setting blocks approval holds for the
    project as approved — by default: no sponsor, no success metric with a baseline and a target,
    no roadmap."""

    authentication_classes = API_AUTHENTICATION
    permission_classes = [IsAuthenticated]
    schema = ApiAutoSchema()
    if_match_handlers = ("post",)

    @extend_schema(
        operation_id="projects_approve_create", request=None, responses={200: ProjectSerializer}
    )
    def post(self, request: Request, pk: int) -> Response:
        from .services import project_approve

        # The service fetches through the project's gate (404 for what the user may not see),
        # decides who may approve (403) and honours If-Match (412).
        project_approve(project_id=pk, actor=request.user, version=if_match(request))
        approved = project_queryset().get(pk=pk)
        response = Response(ProjectSerializer(approved, context={"request": request}).data)
        response["ETag"] = etag(approved) or ""
        return response


class LastScanSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=ScanState.choices)
    finished_at = serializers.DateTimeField(allow_null=True)


class SummarySerializer(serializers.Serializer):
    """The dashboard's headline figures as the latest full scan recorded them: `figures_as_of`
    is when (null, with every figure null, before the first full scan). Open flags are counted
    live. Percentages are whole numbers 0-100, amounts decimal strings to the cent in
    `currency`."""

    figures_as_of = serializers.DateTimeField(allow_null=True)
    projects_total = serializers.IntegerField(allow_null=True)
    projects_traced = serializers.IntegerField(allow_null=True)
    projects_traced_pct = serializers.IntegerField(allow_null=True)
    budget_total = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    budget_traced = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    budget_traced_pct = serializers.IntegerField(allow_null=True)
    features_total = serializers.IntegerField(allow_null=True)
    features_traced = serializers.IntegerField(allow_null=True)
    features_traced_pct = serializers.IntegerField(allow_null=True)
    budget_technology = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    budget_capability = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    currency = CurrencyField()
    open_flags_by_severity = serializers.DictField(child=serializers.IntegerField())
    open_flags_by_rule = serializers.DictField(child=serializers.IntegerField())
    open_flags_total = serializers.IntegerField()
    last_scan = LastScanSerializer(allow_null=True)


class SummaryView(APIView):
    """Headline figures: how much of the portfolio (projects, budget, features) traces to an
    active goal and technology vs capability spend, as of the latest full scan
    (`figures_as_of`), and the open flags now."""

    authentication_classes = API_AUTHENTICATION
    schema = ApiAutoSchema()

    @extend_schema(operation_id="alignment_summary", responses={200: SummarySerializer})
    def get(self, request: Request) -> Response:
        from .selectors import alignment_summary

        if not permissions.can_read(request.user):
            raise PermissionDenied("You have no role in this portfolio.")
        return Response(SummarySerializer(alignment_summary()).data)


class ScanStartedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=ScanState.choices)


class ScanSerializer(serializers.ModelSerializer):
    class Meta:
        model = Scan
        # `error`: why a failed scan failed, or why a queued one waits (empty otherwise);
        # `attempts`: how many times a worker started it (more than 1 after a redelivery or a
        # retry, see README "Faults").
        fields = [
            "id",
            "state",
            "started_at",
            "finished_at",
            "attempts",
            "opened",
            "resolved",
            "error",
        ]
        read_only_fields = fields


class ScanRequestView(APIView):
    """Start a full scan of the portfolio (executives, sponsors, admins); poll its state at
    /api/alignment/scans/{id}/."""

    authentication_classes = API_AUTHENTICATION
    schema = ApiAutoSchema()

    @extend_schema(
        operation_id="alignment_scan_create",
        request=None,
        # 503 (with Retry-After) when the task queue does not take the scan: ScanUnavailable.
        responses={202: ScanStartedSerializer, 503: ERROR_RESPONSES["503"]},
    )
    def post(self, request: Request) -> Response:
        from .services import scan_request

        if not permissions.can_start_scan(request.user):
            raise PermissionDenied("Only executives, sponsors and admins start scans.")
        scan = scan_request(actor=request.user)
        return Response({"id": scan.pk, "state": scan.state}, status=status.HTTP_202_ACCEPTED)


class ScanDetailView(generics.RetrieveAPIView):
    """A scan's progress: queued, running, done or failed, with the flags it opened and
    resolved."""

    authentication_classes = API_AUTHENTICATION
    schema = ApiAutoSchema()
    serializer_class = ScanSerializer

    def get_queryset(self) -> Any:
        return permissions.visible_to(Scan.objects.all(), self.request.user)
