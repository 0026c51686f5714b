"""REST API for the alignment engine: flags (read, acknowledge, waive), a project's approval,
the headline figures and scans. Reads come from alignment.selectors, writes from
alignment.services."""

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
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
from goals.api import GoalSerializer
from projects.api import (
    DecisionCommentSerializer,
    ProjectSerializer,
    comment_from,
    project_queryset,
)
from strategies.api import BusinessStrategySerializer, CRMStrategySerializer

from .filters import FlagFilterSet
from .models import Flag, Scan, ScanState


class PathStepSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=["project", "feature", "crm_strategy", "business_strategy", "goal"]
    )
    id = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.CharField()
    changed_at = serializers.DateTimeField(
        allow_null=True, help_text="When its status last changed (null: not recorded)."
    )
    changed_by = serializers.CharField(
        allow_null=True, help_text="Who changed its status last (full name, else username)."
    )


class FlagSerializer(serializers.ModelSerializer):
    """A rule's finding about one subject. Its state changes only through the actions.

    A traceability flag (project.untraced, project.broken_chain, feature.untraced,
    feature.off_scope, crm_strategy.unanchored) carries the broken chain: `path` from the
    subject up to the step that breaks it, and `explanation`, the same in words ("" and [] for
    other flags, and for a subject that no longer exists)."""

    explanation = serializers.SerializerMethodField()
    path = serializers.SerializerMethodField()

    def _explained(self, flag: Flag) -> Any:
        from .explain import explain

        # A list passes its page's explanations, read together; one flag on its own (an
        # action's answer) is explained here, once for both fields.
        explanations = self.context.get("explanations")
        if explanations is None:
            explanations = explain([flag])
            self.context["explanations"] = explanations  # type: ignore[index]
        return explanations.get(flag.pk)

    def get_explanation(self, flag: Flag) -> str:
        explained = self._explained(flag)
        return explained.text if explained else ""

    @extend_schema_field(PathStepSerializer(many=True))
    def get_path(self, flag: Flag) -> list[dict[str, Any]]:
        explained = self._explained(flag)
        return explained.path_data() if explained else []

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
            "explanation",
            "path",
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

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A page of flags, the page's explanations read together (a fixed number of
        queries whatever the page's size)."""
        from .explain import explain

        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        rows = list(page or ())
        context = {**self.get_serializer_context(), "explanations": explain(rows)}
        return self.get_paginated_response(
            self.get_serializer(rows, many=True, context=context).data
        )

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
        from .explain import explain
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
        flags = [outcome.flag for outcome in outcomes if outcome.flag is not None]
        context = {"explanations": explain(flags)}
        return Response(BulkResultSerializer(result, context=context).data)


class _ProjectDecisionView(APIView):
    """A sponsor's decision on a proposed or on-hold project, with `{"comment"}`: answered with
    the project as it stands after it (and its ETag). The service fetches through the project's
    gate (404 for what the user may not see), decides who may decide (403: the project's sponsor,
    executives, admins) and honours If-Match (412)."""

    authentication_classes = API_AUTHENTICATION
    permission_classes = [IsAuthenticated]
    schema = ApiAutoSchema()
    if_match_handlers = ("post",)

    def decide(self, request: Request, pk: int, comment: str) -> None:
        raise NotImplementedError

    def post(self, request: Request, pk: int) -> Response:
        self.decide(request, pk, comment_from(request))
        decided = project_queryset().get(pk=pk)
        response = Response(ProjectSerializer(decided, context={"request": request}).data)
        response["ETag"] = etag(decided) or ""
        return response


class ProjectApproveView(_ProjectDecisionView):
    """Approve a proposed or on-hold project, optionally with a comment: its sponsor, an
    executive or an admin. Refused (400, the reasons under `status`) while a rule whose setting
    blocks approval holds for the project as approved — by default: no sponsor, no success
    metric with a baseline and a target, no roadmap."""

    def decide(self, request: Request, pk: int, comment: str) -> None:
        from .services import project_approve

        project_approve(
            project_id=pk, actor=request.user, version=if_match(request), comment=comment
        )

    @extend_schema(
        operation_id="projects_approve_create",
        request=DecisionCommentSerializer,
        responses={200: ProjectSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class ProjectRejectView(_ProjectDecisionView):
    """Reject a proposed or on-hold project, saying why (`comment`, required: 400 naming it
    when missing or blank): the project is cancelled and the rejection stays on its thread
    (`GET /api/projects/{id}/decisions/`). Its sponsor, an executive or an admin."""

    def decide(self, request: Request, pk: int, comment: str) -> None:
        from .services import project_reject

        project_reject(
            project_id=pk, actor=request.user, version=if_match(request), comment=comment
        )

    @extend_schema(
        operation_id="projects_reject_create",
        request=DecisionCommentSerializer,
        responses={200: ProjectSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class ProjectSendBackView(_ProjectDecisionView):
    """Send a proposed or on-hold project back to its manager with what to fix (`comment`,
    required: 400 naming it when missing or blank). The status stays; the project waits for its
    manager to resubmit (`POST /api/projects/{id}/resubmit/`). 400 (`status`) while an earlier
    send-back is unanswered. Its sponsor, an executive or an admin."""

    def decide(self, request: Request, pk: int, comment: str) -> None:
        from .services import project_send_back

        project_send_back(
            project_id=pk, actor=request.user, version=if_match(request), comment=comment
        )

    @extend_schema(
        operation_id="projects_send_back_create",
        request=DecisionCommentSerializer,
        responses={200: ProjectSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


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


# --- Impact preview and reactivation


class ImpactFlagSerializer(serializers.Serializer):
    rule = serializers.CharField()
    subject_type = serializers.CharField()
    subject_id = serializers.IntegerField()
    subject_label = serializers.CharField(
        source="label", help_text="The subject's title, as the flag would show it."
    )


class ImpactSerializer(serializers.Serializer):
    """What the proposed change would do, by the rule catalogue the scan runs; nothing saved.
    Losing the chain: a live project (feature) that traces now and would not."""

    projects_losing_chain = serializers.ListField(child=serializers.IntegerField())
    features_losing_chain = serializers.ListField(child=serializers.IntegerField())
    budget_losing_chain = serializers.DecimalField(max_digits=18, decimal_places=2)
    currency = CurrencyField()
    flags_opening = ImpactFlagSerializer(many=True)
    projects_tracing_again = serializers.ListField(child=serializers.IntegerField())
    features_tracing_again = serializers.ListField(child=serializers.IntegerField())
    flags_closing = ImpactFlagSerializer(many=True)


IMPACT_REQUEST = {
    "type": "object",
    "description": 'The proposed change, as the resource\'s PATCH takes it (e.g. {"status": '
    '"retired"}, a CRM strategy\'s {"business_strategies": [ids]} — or {"serves": [ids]} — a '
    'project\'s {"crm_strategies": [ids]} or {"links": [...]}), or {"delete": true}.',
    "additionalProperties": {},
    "example": {"status": "retired"},
}


class _ImpactView(APIView):
    """POST the proposed change; the answer says what it would break (or mend). Nothing is
    saved, nothing queued. Who may not see the object gets 404; who may not make the change,
    403 as for the change itself; a body the change would refuse, 400 naming the field."""

    authentication_classes = API_AUTHENTICATION
    permission_classes = [IsAuthenticated]
    schema = ApiAutoSchema()
    kind: str
    refusal = "You may not change this."
    aliases: dict[str, str] = {}

    def resource_serializer(self) -> type[serializers.Serializer]:
        raise NotImplementedError

    def queryset(self) -> Any:
        raise NotImplementedError

    def may_change(self, user: Any, obj: Any) -> bool:
        return permissions.can_manage_strategy(user)

    def delete_object(self, user: Any, obj: Any) -> None:
        raise NotImplementedError

    def post(self, request: Request, pk: int) -> Response:
        from .impact import preview

        obj = permissions.get_visible_or_404(self.queryset(), request.user, pk=pk)
        if not self.may_change(request.user, obj):
            raise PermissionDenied(self.refusal)
        body = request.data
        if not isinstance(body, dict) or not body:
            raise ValidationError(
                {
                    "non_field_errors": [
                        'Send the proposed change as an object, e.g. {"status": "retired"} '
                        'or {"delete": true}.'
                    ]
                }
            )
        if "delete" in body:
            if body["delete"] is not True or len(body) != 1:
                raise ValidationError(
                    {"delete": ['To preview a delete send {"delete": true} and nothing else.']}
                )
            impact = preview(self.kind, obj.pk, lambda: self.delete_object(request.user, obj))
            return Response(ImpactSerializer(impact).data)
        data = {self.aliases.get(name, name): value for name, value in body.items()}
        back = {alias: name for name, alias in self.aliases.items() if name in body}
        serializer = self.resource_serializer()(
            obj, data=data, partial=True, context={"request": request, "version": None}
        )
        writable = {name for name, f in serializer.fields.items() if not f.read_only}
        unknown = sorted(name for name in body if self.aliases.get(name, name) not in writable)
        if unknown:
            raise ValidationError(
                {key: ["This field cannot be changed (or previewed) here."] for key in unknown}
            )
        if not serializer.is_valid():
            raise ValidationError(
                {back.get(name, name): errors for name, errors in serializer.errors.items()}
            )
        impact = preview(self.kind, obj.pk, serializer.save)
        return Response(ImpactSerializer(impact).data)


def _impact_schema(name: str) -> Any:
    return extend_schema(
        operation_id=f"{name}_impact_create",
        request={"application/json": IMPACT_REQUEST},
        responses={200: ImpactSerializer},
    )


class GoalImpactView(_ImpactView):
    """What retiring, changing or deleting this goal would break."""

    kind = "goal"
    refusal = "Only executives change goals."

    def resource_serializer(self) -> Any:
        return GoalSerializer

    def queryset(self) -> Any:
        from goals.models import BusinessGoal

        return BusinessGoal.objects.all()

    def delete_object(self, user: Any, obj: Any) -> None:
        from goals.services import goal_delete

        goal_delete(actor=user, goal_id=obj.pk)

    @_impact_schema("goals")
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class BusinessStrategyImpactView(_ImpactView):
    """What retiring, moving or deleting this business strategy would break."""

    kind = "business_strategy"
    refusal = "Only executives change business strategies."

    def resource_serializer(self) -> Any:
        return BusinessStrategySerializer

    def queryset(self) -> Any:
        from strategies.models import BusinessStrategy

        return BusinessStrategy.objects.all()

    def delete_object(self, user: Any, obj: Any) -> None:
        from strategies.services import business_strategy_delete

        business_strategy_delete(actor=user, business_strategy_id=obj.pk)

    @_impact_schema("business_strategies")
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class CRMStrategyImpactView(_ImpactView):
    """What retiring this CRM strategy, changing what it serves or deleting it would break."""

    kind = "crm_strategy"
    refusal = "Only executives change CRM strategies."
    aliases = {"serves": "business_strategies"}

    def resource_serializer(self) -> Any:
        return CRMStrategySerializer

    def queryset(self) -> Any:
        from strategies.models import CRMStrategy

        return CRMStrategy.objects.all()

    def delete_object(self, user: Any, obj: Any) -> None:
        from strategies.services import crm_strategy_delete

        crm_strategy_delete(actor=user, crm_strategy_id=obj.pk)

    @_impact_schema("crm_strategies")
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class ProjectImpactView(_ImpactView):
    """What unlinking, cancelling or deleting this project would break."""

    kind = "project"
    refusal = "Only the project's manager changes it."

    def resource_serializer(self) -> Any:
        return ProjectSerializer

    def queryset(self) -> Any:
        from projects.models import CRMProject

        return CRMProject.objects.all()

    def may_change(self, user: Any, obj: Any) -> bool:
        return permissions.can_edit_project(user, obj)

    def delete_object(self, user: Any, obj: Any) -> None:
        from projects.services import project_delete

        project_delete(actor=user, project_id=obj.pk)

    @_impact_schema("projects")
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class _ReactivateView(APIView):
    serializer_class: Any = None

    """Make a retired goal or strategy active again (executives, admins); see its effect first
    with the impact preview and {"status": "active"}. 400 unless it is retired."""

    authentication_classes = API_AUTHENTICATION
    permission_classes = [IsAuthenticated]
    schema = ApiAutoSchema()
    if_match_handlers = ("post",)

    def reactivate(self, user: Any, pk: int, version: Any) -> Any:
        raise NotImplementedError

    def answer(self, request: Request, pk: int) -> Response:
        obj = self.reactivate(request.user, pk, if_match(request))
        response = Response(self.serializer_class(obj, context={"request": request}).data)
        response["ETag"] = etag(obj) or ""
        return response


class GoalReactivateView(_ReactivateView):
    serializer_class: Any = GoalSerializer

    def reactivate(self, user: Any, pk: int, version: Any) -> Any:
        from goals.selectors import goals_with_counts
        from goals.services import goal_reactivate

        goal_reactivate(actor=user, goal_id=pk, version=version)
        return goals_with_counts().get(pk=pk)

    @extend_schema(operation_id="goals_reactivate_create", request=None)
    def post(self, request: Request, pk: int) -> Response:
        return self.answer(request, pk)


class BusinessStrategyReactivateView(_ReactivateView):
    serializer_class: Any = BusinessStrategySerializer

    def reactivate(self, user: Any, pk: int, version: Any) -> Any:
        from strategies.selectors import business_strategies_with_counts
        from strategies.services import business_strategy_reactivate

        business_strategy_reactivate(actor=user, business_strategy_id=pk, version=version)
        return business_strategies_with_counts().get(pk=pk)

    @extend_schema(operation_id="business_strategies_reactivate_create", request=None)
    def post(self, request: Request, pk: int) -> Response:
        return self.answer(request, pk)


class CRMStrategyReactivateView(_ReactivateView):
    serializer_class: Any = CRMStrategySerializer

    def reactivate(self, user: Any, pk: int, version: Any) -> Any:
        from strategies.selectors import crm_strategies_with_trace
        from strategies.services import crm_strategy_reactivate

        crm_strategy_reactivate(actor=user, crm_strategy_id=pk, version=version)
        return crm_strategies_with_trace().prefetch_related("business_strategies").get(pk=pk)

    @extend_schema(operation_id="crm_strategies_reactivate_create", request=None)
    def post(self, request: Request, pk: int) -> Response:
        return self.answer(request, pk)


class SuggestionSerializer(serializers.Serializer):
    crm_strategy = serializers.IntegerField(help_text="The suggested CRM strategy's id.")
    title = serializers.CharField()
    score = serializers.FloatField(help_text="Cosine similarity of their words, 0 to 1.")
    shared_words = serializers.ListField(
        child=serializers.CharField(), help_text="The words they share, strongest first."
    )
    reason = serializers.CharField()
    rationale = serializers.CharField(help_text="A first draft of the link's rationale.")
    accept_url = serializers.CharField(
        help_text="The link picker with the strategy ticked and the rationale filled in."
    )


class SuggestionsSerializer(serializers.Serializer):
    traced = serializers.BooleanField(help_text="Whether it already links to a CRM strategy.")
    suggestions = SuggestionSerializer(many=True)


def suggestion_rows(found: list[Any], picker_url: str) -> list[dict[str, Any]]:
    from urllib.parse import urlencode

    return [
        {
            "crm_strategy": s.strategy_id,
            "title": s.title,
            "score": s.score,
            "shared_words": list(s.shared_words),
            "reason": s.reason,
            "rationale": s.rationale,
            "accept_url": f"{picker_url}?"
            + urlencode({"suggest": s.strategy_id, "rationale": s.rationale}),
        }
        for s in found
    ]


class _SuggestionsView(APIView):
    """Up to three CRM strategies this item could serve, ranked by how alike their words are
    (alignment.suggestions), leaving out those it links to already. Who may not see the item
    gets 404, like the item itself."""

    authentication_classes = API_AUTHENTICATION
    permission_classes = [IsAuthenticated]
    schema = ApiAutoSchema()

    def answer(self, item: Any, found: list[Any], picker: str) -> Response:
        from django.urls import reverse

        return Response(
            SuggestionsSerializer(
                {
                    "traced": item.links.exists(),
                    "suggestions": suggestion_rows(found, reverse(picker, args=[item.pk])),
                }
            ).data
        )


class ProjectSuggestionsView(_SuggestionsView):
    @extend_schema(operation_id="projects_suggestions", responses={200: SuggestionsSerializer})
    def get(self, request: Request, pk: int) -> Response:
        from projects.access import project_for

        from .suggestions import for_projects

        project = project_for(request.user, pk)
        return self.answer(project, for_projects([project])[project.pk], "projects:links")


class FeatureSuggestionsView(_SuggestionsView):
    @extend_schema(operation_id="features_suggestions", responses={200: SuggestionsSerializer})
    def get(self, request: Request, pk: int) -> Response:
        from projects.access import feature_for

        from .suggestions import for_features

        feature = feature_for(request.user, pk)
        return self.answer(feature, for_features([feature])[feature.pk], "projects:feature_links")
