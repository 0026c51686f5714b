"""REST API for projects, features, their links, metrics, roadmap phases and check-ins.

Serializers parse and render; every write goes through projects.services, every read through
projects.selectors, every check through core.permissions."""

import functools
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db.models import Model, Prefetch
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.relations import PKOnlyObject
from rest_framework.request import Request
from rest_framework.response import Response

from core import money, permissions
from core.api_base import (
    MAX_ID,
    MAX_LIST_LENGTH,
    ApiViewSet,
    CurrencyField,
    IdListField,
    RestoreMixin,
    ServiceViewSet,
    UserField,
    actor,
    expected_version,
)
from core.lists import RowRenderer
from core.services import Version
from core.slots import InIds, KeptValues
from strategies.models import CRMStrategy

from . import decisions, selectors, services, trace
from .access import project_for
from .filters import (
    CheckInFilterSet,
    DepartmentFilterSet,
    FeatureFilterSet,
    MetricFilterSet,
    MetricReadingFilterSet,
    PhaseFilterSet,
    ProjectFilterSet,
    ProjectSystemFilterSet,
    SystemFilterSet,
    UserGroupFilterSet,
)
from .models import (
    DECISION_COMMENT_MAX,
    CRMProject,
    Department,
    Feature,
    FeatureLink,
    MetricReading,
    ProjectCheckIn,
    ProjectDecision,
    ProjectLink,
    ProjectSystem,
    ProjectUserGroup,
    RoadmapPhase,
    SuccessMetric,
    System,
    UserGroup,
)

# --- Permissions


class ProjectPermission(BasePermission):
    """Project managers create projects and edit the ones they manage (approval is the
    engine's: alignment.api). Objects a user may not see answer 404 before any 403."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        if view.action == "create":
            return permissions.can_create_project(request.user)
        return True  # decided per object below (after the 404 for the unseen)

    def has_object_permission(self, request: Request, view: Any, obj: CRMProject) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return permissions.can_edit_project(request.user, obj)


class ProjectPartPermission(BasePermission):
    """Features, metrics, phases and check-ins are edited by whoever may edit their project."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        if view.action == "create":
            # Only managers (and admins) edit any project; which one is checked on `project`.
            return permissions.can_create_project(request.user)
        return True

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return permissions.can_edit_project(request.user, obj.project)


# --- Links


class LinkSerializer(serializers.Serializer):
    """One link to a CRM strategy: how the project or feature serves it, and optionally how much."""

    # An id, checked against the database for the whole list at once (LinkedSerializerMixin).
    crm_strategy = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    rationale = serializers.CharField(
        max_length=500,
        allow_blank=True,
        required=False,
        default="",
        help_text=f"How it serves the CRM strategy. {services.RATIONALE_RULE} A link that "
        "exists keeps a rationale sent back unchanged, even one written before this rule.",
    )
    weight = serializers.IntegerField(
        min_value=1,
        max_value=100,
        allow_null=True,
        required=False,
        help_text=services.WEIGHT_MEANING,
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return link_representation(instance.crm_strategy_id, instance.rationale, instance.weight)


def link_representation(crm_strategy_id: int, rationale: str, weight: int | None) -> dict[str, Any]:
    """How the API shows one link (a project's or a feature's)."""
    return {"crm_strategy": crm_strategy_id, "rationale": rationale, "weight": weight}


class LinkedStrategiesField(IdListField):
    """The ids of the linked CRM strategies, read from the (prefetched) links."""

    def get_attribute(self, instance: Any) -> list[PKOnlyObject]:
        return [PKOnlyObject(pk=link.crm_strategy_id) for link in instance.links.all()]


class UserGroupsField(IdListField):
    """The ids of the user groups a project affects, read from the (prefetched) rows."""

    def get_attribute(self, instance: Any) -> list[PKOnlyObject]:
        return [PKOnlyObject(pk=row.user_group_id) for row in instance.user_group_links.all()]


class LinkedSerializerMixin(serializers.Serializer):
    """`crm_strategies` (ids) and `links` (ids with rationale and weight) are two ways to write
    the same set of links; send one of them. Writing either replaces the whole set."""

    crm_strategies = LinkedStrategiesField(
        child_relation=serializers.PrimaryKeyRelatedField(queryset=CRMStrategy.objects.all()),
        required=False,
    )
    # `max_length` goes to the ListSerializer `many=True` builds (the stubs do not know it).
    links = LinkSerializer(many=True, required=False, max_length=MAX_LIST_LENGTH)  # type: ignore[call-arg]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if "crm_strategies" in attrs and "links" in attrs:
            raise serializers.ValidationError(
                {"links": ["Send either crm_strategies or links, not both."]}
            )
        if "links" in attrs:
            self._check_rationales(attrs["links"])
            ids = [link["crm_strategy"] for link in attrs["links"]]
            if len(ids) != len(set(ids)):
                raise serializers.ValidationError(
                    {"links": ["Each CRM strategy may be linked only once."]}
                )
            found = set(CRMStrategy.objects.filter(pk__in=ids).values_list("pk", flat=True))
            missing = [pk for pk in ids if pk not in found]
            if missing:
                raise serializers.ValidationError(
                    {"links": [f"No such CRM strategy: {', '.join(map(str, missing))}."]}
                )
        return attrs

    def _check_rationales(self, links: list[dict[str, Any]]) -> None:
        """Each link's rationale follows the service's rule: a 400 under the link's index, as
        DRF reports the links' other field errors ({"links": {"1": {"rationale": [...]}}}); a
        link that exists may send its stored rationale back unchanged."""
        stored = (
            {link.crm_strategy_id: link.rationale for link in self.instance.links.all()}
            if self.instance is not None
            else {}
        )
        errors: dict[str, dict[str, list[str]]] = {}
        for index, link in enumerate(links):
            text = (link.get("rationale") or "").strip()
            refusal = (
                None
                if stored.get(link["crm_strategy"]) == text
                else services.rationale_refusal(text)
            )
            if refusal:
                errors[str(index)] = {"rationale": [refusal]}
        if errors:
            raise serializers.ValidationError({"links": errors})

    @staticmethod
    def pop_links(validated_data: dict[str, Any]) -> list[services.LinkSpec] | None:
        """The LinkSpecs to write, or None when the request did not touch the links. A bare id
        list keeps the rationale and weight of links that already exist (the service reads
        them under its lock)."""
        if "links" in validated_data:
            validated_data.pop("crm_strategies", None)
            return [
                services.LinkSpec(
                    link["crm_strategy"], link.get("rationale") or "", link.get("weight")
                )
                for link in validated_data.pop("links")
            ]
        if "crm_strategies" in validated_data:
            strategies = dict.fromkeys(s.pk for s in validated_data.pop("crm_strategies"))
            return [services.LinkSpec(pk, keep=True) for pk in strategies]
        return None


# --- Project parts shown nested on the project


class ProjectPartSerializer(serializers.ModelSerializer):
    """Base for things that belong to one project: `project` is set on create and never moved;
    the service decides whether the user may edit that project (403 if not)."""

    project = serializers.PrimaryKeyRelatedField(queryset=CRMProject.objects.all())

    def validate_project(self, project: CRMProject) -> CRMProject:
        if self.instance is not None and project.pk != self.instance.project_id:
            raise serializers.ValidationError("This cannot move to another project.")
        return project


class MetricSerializer(ProjectPartSerializer):
    """A success metric; it counts for approval once it has a baseline and a target."""

    class Meta:
        model = SuccessMetric
        fields = ["id", "project", *services.METRIC_FIELDS, "version"]
        read_only_fields = ["version"]
        validators: list = []

    def create(self, validated_data: dict[str, Any]) -> SuccessMetric:
        project = validated_data.pop("project")
        return services.metric_create(actor=actor(self), project_id=project.pk, **validated_data)

    def update(self, instance: SuccessMetric, validated_data: dict[str, Any]) -> SuccessMetric:
        validated_data.pop("project", None)
        return services.metric_update(
            actor=actor(self),
            metric_id=instance.pk,
            changes=validated_data,
            version=expected_version(self),
        )


class PhaseSerializer(ProjectPartSerializer):
    """A roadmap phase or milestone."""

    class Meta:
        model = RoadmapPhase
        fields = ["id", "project", *services.PHASE_FIELDS, "version"]
        read_only_fields = ["version"]

    def create(self, validated_data: dict[str, Any]) -> RoadmapPhase:
        project = validated_data.pop("project")
        return services.phase_create(actor=actor(self), project_id=project.pk, **validated_data)

    def update(self, instance: RoadmapPhase, validated_data: dict[str, Any]) -> RoadmapPhase:
        validated_data.pop("project", None)
        return services.phase_update(
            actor=actor(self),
            phase_id=instance.pk,
            changes=validated_data,
            version=expected_version(self),
        )


class CheckInSerializer(ProjectPartSerializer):
    """A dated progress note (today unless `checked_in_on` is given); the author is the caller."""

    checked_in_on = serializers.DateField(required=False)

    class Meta:
        model = ProjectCheckIn
        fields = [
            "id",
            "project",
            *services.CHECK_IN_FIELDS,
            "author",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["author", "version", "created_at", "updated_at"]

    def create(self, validated_data: dict[str, Any]) -> ProjectCheckIn:
        project = validated_data.pop("project")
        return services.project_check_in(actor=actor(self), project_id=project.pk, **validated_data)

    def update(self, instance: ProjectCheckIn, validated_data: dict[str, Any]) -> ProjectCheckIn:
        validated_data.pop("project", None)  # never moves (validate_project)
        return services.project_check_in_update(
            actor=actor(self),
            check_in_id=instance.pk,
            changes=validated_data,
            version=expected_version(self),
        )


class NestedMetricSerializer(serializers.ModelSerializer):
    class Meta:
        model = SuccessMetric
        fields = ["id", "name", "unit", "baseline", "target", "current"]


class NestedPhaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = RoadmapPhase
        fields = ["id", "name", "kind", "start_date", "end_date", "go_live", "position"]


class NestedCheckInSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProjectCheckIn
        fields = ["id", "checked_in_on", "health", "summary", "author", "created_at"]


# --- Projects


class ProjectSerializer(LinkedSerializerMixin, serializers.ModelSerializer):
    """A CRM project. `manager` defaults to the creating project manager; approval happens only
    through POST /projects/{id}/approve/. Metrics, phases and check-ins are shown here and
    written at /api/metrics/, /api/phases/ and /api/project-check-ins/."""

    manager = UserField(required=False)
    sponsor = UserField(required=False, allow_null=True)
    business_owner = UserField(required=False, allow_null=True)
    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.all(), required=False, allow_null=True
    )
    budget_capability = serializers.DecimalField(
        max_digits=16, decimal_places=2, read_only=True, source="budget_capability_total"
    )
    budget_total = serializers.DecimalField(
        max_digits=16, decimal_places=2, read_only=True, source="budget_sum"
    )
    currency = CurrencyField(help_text="The currency of the budget fields (ISO 4217).")
    is_linked = serializers.BooleanField(read_only=True)
    is_traceable = serializers.BooleanField(read_only=True)
    feature_count = serializers.IntegerField(read_only=True)
    features_traced = serializers.IntegerField(read_only=True)
    user_groups = UserGroupsField(
        child_relation=serializers.PrimaryKeyRelatedField(queryset=UserGroup.objects.all()),
        required=False,
        help_text="Ids of the user groups the change lands on; writing it replaces the set.",
    )
    metrics = NestedMetricSerializer(many=True, read_only=True)
    phases = NestedPhaseSerializer(many=True, read_only=True)
    check_ins = NestedCheckInSerializer(many=True, read_only=True)

    class Meta:
        model = CRMProject
        fields = [
            "id",
            *services.PROJECT_FIELDS,
            "version",
            "budget_capability",
            "budget_total",
            "currency",
            "approved_at",
            "approved_by",
            "crm_strategies",
            "links",
            "user_groups",
            "is_linked",
            "is_traceable",
            "feature_count",
            "features_traced",
            "metrics",
            "phases",
            "check_ins",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["version", "approved_at", "approved_by", "created_at", "updated_at"]
        validators: list = []

    def create(self, validated_data: dict[str, Any]) -> CRMProject:
        links = self.pop_links(validated_data)
        project = services.project_create(actor=actor(self), **validated_data)
        if links is not None:
            services.project_set_links(actor=actor(self), project_id=project.pk, links=links)
        return project

    def update(self, instance: CRMProject, validated_data: dict[str, Any]) -> CRMProject:
        links = self.pop_links(validated_data)
        # The fields first, checked against If-Match; the links then follow in the same
        # transaction with the row still locked, so the version was already checked.
        project = services.project_update(
            actor=actor(self),
            project_id=instance.pk,
            changes=validated_data,
            version=expected_version(self),
        )
        if links is not None:
            services.project_set_links(actor=actor(self), project_id=instance.pk, links=links)
        return project


class ChainElementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.CharField()


class ChainSerializer(serializers.Serializer):
    """One path project → CRM strategy → business strategy → goal."""

    crm_strategy = ChainElementSerializer()
    rationale = serializers.CharField()
    weight = serializers.IntegerField(allow_null=True)
    business_strategy = ChainElementSerializer(allow_null=True)
    goal = ChainElementSerializer(allow_null=True)
    traceable = serializers.BooleanField()


class TraceSerializer(serializers.Serializer):
    project = ChainElementSerializer()
    is_traceable = serializers.BooleanField()
    chains = ChainSerializer(many=True)


class FeatureOrderSerializer(serializers.Serializer):
    features = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), max_length=MAX_LIST_LENGTH
    )


def project_queryset() -> Any:
    """Projects as every project answer shows them: traceability, budgets, and the nested
    links, metrics, phases and check-ins (also used by the approval endpoint in alignment)."""
    return selectors.projects_with_trace().prefetch_related(
        Prefetch("links", queryset=ProjectLink.objects.order_by("id")),
        Prefetch("user_group_links", queryset=ProjectUserGroup.objects.order_by("user_group_id")),
        "metrics",
        "phases",
        "check_ins",
    )


# The project list's fields that `project_list_results` puts into each row itself; the others
# are the row's columns, rendered by ProjectSerializer's own fields (core.lists.RowRenderer).
_PROJECT_PARTS = ("metrics", "phases", "check_ins")
_PROJECT_GIVEN = (
    "currency",
    "crm_strategies",
    "links",
    "user_groups",
    "is_linked",
    "is_traceable",
    *_PROJECT_PARTS,
)


@functools.cache
def _renderers() -> tuple[RowRenderer, dict[str, tuple[type[Model], RowRenderer]]]:
    parts: dict[str, tuple[type[Model], RowRenderer]] = {
        "metrics": (SuccessMetric, RowRenderer(NestedMetricSerializer)),
        "phases": (RoadmapPhase, RowRenderer(NestedPhaseSerializer)),
        "check_ins": (ProjectCheckIn, RowRenderer(NestedCheckInSerializer)),
    }
    return RowRenderer(ProjectSerializer, given=_PROJECT_GIVEN), parts


PAGE = "page"  # the slot of the page's project ids


@functools.cache
def _page_statements() -> dict[str, KeptValues]:
    """The statements that read a page of the list, each for the page's ids (the PAGE slot):
    compiled once per process, prepared on PostgreSQL (core.slots)."""
    project_renderer, part_renderers = _renderers()
    statements = {
        "links": KeptValues(
            lambda: (
                selectors.project_links_with_trace()
                .filter(InIds("project_id", PAGE))
                .values("project_id", "crm_strategy_id", "rationale", "weight", "is_traceable")
            )
        ),
        "user_groups": KeptValues(
            lambda: (
                ProjectUserGroup.objects.filter(InIds("project_id", PAGE))
                .order_by("user_group_id")
                .values("project_id", "user_group_id")
            )
        ),
        "projects": KeptValues(
            lambda: (
                selectors.projects_with_figures()
                .filter(InIds("pk", PAGE))
                .values(*project_renderer.columns)
            )
        ),
    }
    for name, (model, renderer) in part_renderers.items():
        # In the model's own order, as the serializer's nested lists show them.
        statements[name] = KeptValues(
            functools.partial(
                lambda model, columns: model._default_manager.filter(
                    InIds("project_id", PAGE)
                ).values("project_id", *columns),
                model,
                renderer.columns,
            )
        )
    return statements


def project_list_results(ids: Sequence[int]) -> list[dict[str, Any]]:
    """What ProjectSerializer shows for each of these projects, in the order of `ids`: a page of
    the project list. Six statements whatever the page's size (the projects with their budgets
    and feature counts; their links, each with whether it traces; their metrics, phases,
    check-ins and user groups), kept compiled (`_page_statements`), read as plain rows rather
    than model instances and rendered by the serializer's own fields. Whether a project is
    linked and traceable follows from its links, read anyway: linked when it has one,
    traceable when one of them traces (projects.trace)."""
    if not ids:
        return []
    project_renderer, part_renderers = _renderers()
    statements = _page_statements()
    page_ids = {PAGE: ids}
    links: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for link in statements["links"].rows(page_ids):
        links[link["project_id"]].append(link)
    parts: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for name, (_model, renderer) in part_renderers.items():
        grouped = parts[name] = defaultdict(list)
        rows = statements[name].rows(page_ids)
        for row, shown in zip(rows, renderer.render(rows), strict=True):
            grouped[row["project_id"]].append(shown)
    groups: dict[int, list[int]] = defaultdict(list)
    for row in statements["user_groups"].rows(page_ids):
        groups[row["project_id"]].append(row["user_group_id"])
    found = {row["id"]: row for row in statements["projects"].rows(page_ids)}
    currency = money.currency()
    page = []
    for pk in ids:
        project = found.get(pk)
        if project is None:
            continue
        own = links[pk]
        project["currency"] = currency
        project["crm_strategies"] = [link["crm_strategy_id"] for link in own]
        project["links"] = [
            link_representation(link["crm_strategy_id"], link["rationale"], link["weight"])
            for link in own
        ]
        project["user_groups"] = groups[pk]
        project["is_linked"] = bool(own)
        project["is_traceable"] = trace.traceable_from_links(link["is_traceable"] for link in own)
        for name in _PROJECT_PARTS:
            project[name] = parts[name][pk]
        page.append(project)
    return project_renderer.render(page)


class DecisionCommentSerializer(serializers.Serializer):
    """A comment on a decision: required (not blank) to reject, send back or comment; optional
    to approve or resubmit."""

    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=DECISION_COMMENT_MAX,
        help_text="Why (to reject), what to fix (to send back), or a remark.",
    )


class DecisionSerializer(serializers.ModelSerializer):
    """One entry of a project's approval thread."""

    author = serializers.IntegerField(source="author_id", read_only=True)
    author_name = serializers.SerializerMethodField()

    class Meta:
        model = ProjectDecision
        fields = ["id", "project", "kind", "comment", "author", "author_name", "created_at"]
        read_only_fields = fields

    def get_author_name(self, entry: ProjectDecision) -> str:
        return entry.author.get_full_name() or entry.author.get_username()


def _project_id(pk: str | None) -> int:
    """The id in the URL, or 404 (as for any id that names no project)."""
    if pk is None or not (pk.isascii() and pk.isdigit()) or int(pk) > MAX_ID:
        raise Http404
    return int(pk)


def comment_from(request: Request) -> str:
    """The `comment` of a decision's body (400 naming it when it is not text or too long)."""
    data = DecisionCommentSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return str(data.validated_data["comment"])


class ProjectViewSet(RestoreMixin, ServiceViewSet):
    """CRM projects. Managers create and edit their own; the sponsor or an executive approves
    (POST /projects/{id}/approve/, served by alignment.api). A project that was approved or
    started cannot be deleted (cancel it instead)."""

    serializer_class = ProjectSerializer
    permission_classes = [IsAuthenticated, ProjectPermission]
    filterset_class = ProjectFilterSet
    if_match_handlers = (*ServiceViewSet.if_match_handlers, "reorder_features", "resubmit")
    search_fields = ["title"]

    def get_queryset(self) -> Any:
        if self.action == "list":
            return self.visible(selectors.projects_to_list())
        return self.visible(project_queryset())

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The list filters, orders and paginates ids; the page's projects are then read and
        # rendered as plain rows (project_list_results), the serializer's output without its
        # per-row cost: this is the API's busiest endpoint.
        ids = self.paginate_queryset(
            self.filter_queryset(self.get_queryset()).values_list("pk", flat=True)
        )
        return self.get_paginated_response(project_list_results(list(ids or ())))

    def restore_service(self, actor: Any, pk: Any) -> Any:
        return services.project_restore(actor=actor, project_id=pk)

    def delete_service(self, instance: CRMProject, version: Version = None) -> None:
        services.project_delete(actor=self.request.user, project_id=instance.pk, version=version)

    # Not named `trace`: DRF dispatches the HTTP TRACE method to a viewset method of that name,
    # so TRACE /api/projects/ would have run this action instead of answering 405.
    @extend_schema(operation_id="projects_trace_retrieve", responses={200: TraceSerializer})
    @action(detail=True, methods=["get"], url_path="trace", url_name="trace")
    def trace_chains(self, request: Request, pk: str | None = None) -> Response:
        """Every chain from the project through its CRM strategies to goals."""
        project = self.get_object()
        return Response(
            {
                "project": {"id": project.pk, "title": project.title, "status": project.status},
                "is_traceable": project.is_traceable,
                "chains": trace.project_trace(project),
            }
        )

    @extend_schema(
        methods=["get"],
        operation_id="projects_decisions_list",
        request=None,
        responses={200: DecisionSerializer(many=True)},
    )
    @extend_schema(
        methods=["post"],
        operation_id="projects_decisions_create",
        request=DecisionCommentSerializer,
        responses={201: DecisionSerializer},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="decisions",
        url_name="decisions",
        permission_classes=[IsAuthenticated],
        filter_backends=[],
    )
    def decisions(self, request: Request, pk: str | None = None) -> Response:
        """The project's approval thread, oldest first: decisions (`approved`, `rejected`,
        `sent_back`), the manager's `resubmitted` and `comment`s, with who and when; readable by
        everyone who reads the project. POST `{"comment"}` adds a comment: the project's manager,
        its sponsor, executives, admins."""
        if request.method == "POST":
            entry = decisions.project_comment(
                actor=request.user, project_id=_project_id(pk), comment=comment_from(request)
            )
            return Response(DecisionSerializer(entry).data, status=201)
        project = project_for(request.user, _project_id(pk))  # 404 for who may not see it
        entries = ProjectDecision.objects.filter(project=project).select_related("author")
        page = self.paginate_queryset(entries.order_by("created_at", "id"))
        return self.get_paginated_response(DecisionSerializer(page, many=True).data)

    @extend_schema(request=DecisionCommentSerializer, responses={200: ProjectSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path="resubmit",
        permission_classes=[IsAuthenticated],
        filter_backends=[],
    )
    def resubmit(self, request: Request, pk: str | None = None) -> Response:
        """The manager answers a send-back, optionally with a comment: the project waits for its
        sponsor's decision again. 400 (`status`) unless it was sent back and not resubmitted
        yet; 412 when If-Match names an older version."""
        decisions.project_resubmit(
            actor=request.user,
            project_id=_project_id(pk),
            comment=comment_from(request),
            version=self.expected_version(),
        )
        self._etag_object = self.get_queryset().get(pk=pk)
        return Response(self.get_serializer(self._etag_object).data)

    @extend_schema(request=FeatureOrderSerializer, responses={204: None})
    @action(detail=True, methods=["post"], url_path="reorder-features")
    def reorder_features(self, request: Request, pk: str | None = None) -> Response:
        """Put the project's features in the given order (list every feature id once)."""
        project = self.get_object()
        data = FeatureOrderSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.feature_reorder(
            actor=request.user,
            project_id=project.pk,
            feature_ids=data.validated_data["features"],
            version=self.expected_version(),
        )
        return Response(status=204)


# --- Features


class FeatureSerializer(LinkedSerializerMixin, ProjectPartSerializer):
    """A requirement of a project, with the CRM strategies it serves."""

    is_linked = serializers.BooleanField(read_only=True)
    is_traceable = serializers.BooleanField(read_only=True)

    class Meta:
        model = Feature
        fields = [
            "id",
            "project",
            *services.FEATURE_FIELDS,
            "version",
            "crm_strategies",
            "links",
            "is_linked",
            "is_traceable",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["version", "created_at", "updated_at"]
        validators: list = []

    def create(self, validated_data: dict[str, Any]) -> Feature:
        links = self.pop_links(validated_data)
        project = validated_data.pop("project")
        feature = services.feature_create(
            actor=actor(self), project_id=project.pk, **validated_data
        )
        if links is not None:
            services.feature_set_links(actor=actor(self), feature_id=feature.pk, links=links)
        return feature

    def update(self, instance: Feature, validated_data: dict[str, Any]) -> Feature:
        links = self.pop_links(validated_data)
        validated_data.pop("project", None)
        # As for projects: fields checked against If-Match, then the links under the same lock.
        feature = services.feature_update(
            actor=actor(self),
            feature_id=instance.pk,
            changes=validated_data,
            version=expected_version(self),
        )
        if links is not None:
            services.feature_set_links(actor=actor(self), feature_id=instance.pk, links=links)
        return feature


class FeatureViewSet(RestoreMixin, ServiceViewSet):
    """Features of projects; the project's manager writes them and their links."""

    serializer_class = FeatureSerializer
    permission_classes = [IsAuthenticated, ProjectPartPermission]
    filterset_class = FeatureFilterSet
    search_fields = ["title"]

    def get_queryset(self) -> Any:
        if self.action == "list":
            return self.visible(selectors.features_to_list())
        return self.visible(self.page_rows())

    def page_rows(self) -> Any:
        # Traceability and links: for the page's features only.
        return selectors.features_with_trace().prefetch_related(
            Prefetch("links", queryset=FeatureLink.objects.order_by("id"))
        )

    def restore_service(self, actor: Any, pk: Any) -> Any:
        return services.feature_restore(actor=actor, feature_id=pk)

    def delete_service(self, instance: Feature, version: Version = None) -> None:
        services.feature_delete(actor=self.request.user, feature_id=instance.pk, version=version)


# --- Metrics, phases, check-ins as their own small resources


class MetricViewSet(ServiceViewSet):
    """Success metrics of projects (also shown nested on each project)."""

    serializer_class = MetricSerializer
    permission_classes = [IsAuthenticated, ProjectPartPermission]
    filterset_class = MetricFilterSet

    def get_queryset(self) -> Any:
        return self.visible(SuccessMetric.objects.select_related("project"))

    def delete_service(self, instance: SuccessMetric, version: Version = None) -> None:
        services.metric_delete(actor=self.request.user, metric_id=instance.pk, version=version)


class PhaseViewSet(ServiceViewSet):
    """Roadmap phases and milestones of projects (also shown nested on each project)."""

    serializer_class = PhaseSerializer
    permission_classes = [IsAuthenticated, ProjectPartPermission]
    filterset_class = PhaseFilterSet

    def get_queryset(self) -> Any:
        return self.visible(RoadmapPhase.objects.select_related("project"))

    def delete_service(self, instance: RoadmapPhase, version: Version = None) -> None:
        services.phase_delete(actor=self.request.user, phase_id=instance.pk, version=version)


class CheckInViewSet(ServiceViewSet):
    """Project check-ins: a dated record, added by whoever may edit the project, who may also
    correct (PUT/PATCH, If-Match) or delete one recorded by mistake."""

    serializer_class = CheckInSerializer
    permission_classes = [IsAuthenticated, ProjectPartPermission]
    filterset_class = CheckInFilterSet

    def get_queryset(self) -> Any:
        return self.visible(ProjectCheckIn.objects.select_related("project"))

    def delete_service(self, instance: ProjectCheckIn, version: Version = None) -> None:
        services.project_check_in_delete(
            actor=self.request.user, check_in_id=instance.pk, version=version
        )


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "name", "is_it"]


class DepartmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Departments a project can belong to (managed in the admin)."""

    serializer_class = DepartmentSerializer
    filterset_class = DepartmentFilterSet
    search_fields = ["name"]

    def get_queryset(self) -> Any:
        return self.visible(Department.objects.all())


class UserGroupPermission(BasePermission):
    """Everyone who reads the portfolio reads the user groups; project managers and executives
    keep the catalogue. A group a user may not see answers 404 before any 403."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS or view.action != "create":
            return True  # an object's write is decided below, after the 404 for the unseen
        return permissions.can_manage_user_groups(request.user)

    def has_object_permission(self, request: Request, view: Any, obj: UserGroup) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return permissions.can_manage_user_groups(request.user)


class UserGroupSerializer(serializers.ModelSerializer):
    """A user group: the people a change lands on. `project_count`: the live projects naming it."""

    project_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = UserGroup
        fields = ["id", *services.USER_GROUP_FIELDS, "project_count", "version"]
        read_only_fields = ["version"]
        validators: list = []

    def create(self, validated_data: dict[str, Any]) -> UserGroup:
        return services.user_group_create(actor=actor(self), **validated_data)

    def update(self, instance: UserGroup, validated_data: dict[str, Any]) -> UserGroup:
        return services.user_group_update(
            actor=actor(self),
            user_group_id=instance.pk,
            changes=validated_data,
            version=expected_version(self),
        )


class UserGroupViewSet(ServiceViewSet):
    """The catalogue of user groups projects affect (portfolio.change_collision counts the
    go-lives hitting each)."""

    serializer_class = UserGroupSerializer
    permission_classes = [IsAuthenticated, UserGroupPermission]
    filterset_class = UserGroupFilterSet
    search_fields = ["name"]

    def get_queryset(self) -> Any:
        return self.visible(selectors.user_groups_with_counts())

    def delete_service(self, instance: UserGroup, version: Version = None) -> None:
        services.user_group_delete(
            actor=self.request.user, user_group_id=instance.pk, version=version
        )


# --- The integration register


class SystemPermission(BasePermission):
    """Everyone with a role reads the systems catalogue; admins change it (as departments)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS or view.action != "create":
            return True  # an object's write is decided below (after the 404 for the unseen)
        return permissions.can_manage_systems(request.user)

    def has_object_permission(self, request: Request, view: Any, obj: System) -> bool:
        return request.method in SAFE_METHODS or permissions.can_manage_systems(request.user)


class SystemSerializer(serializers.ModelSerializer):
    """A system projects integrate with, and who owns it."""

    owner = UserField()

    class Meta:
        model = System
        fields = ["id", *services.SYSTEM_FIELDS, "version"]
        read_only_fields = ["version"]
        validators: list = []

    def create(self, validated_data: dict[str, Any]) -> System:
        return services.system_create(actor=actor(self), **validated_data)

    def update(self, instance: System, validated_data: dict[str, Any]) -> System:
        return services.system_update(
            actor=actor(self),
            system_id=instance.pk,
            changes=validated_data,
            version=expected_version(self),
        )


class SystemViewSet(ServiceViewSet):
    """The systems catalogue of the integration register (admins write it)."""

    serializer_class = SystemSerializer
    permission_classes = [IsAuthenticated, SystemPermission]
    filterset_class = SystemFilterSet
    search_fields = ["name"]

    def get_queryset(self) -> Any:
        return self.visible(System.objects.all())

    def delete_service(self, instance: System, version: Version = None) -> None:
        services.system_delete(actor=self.request.user, system_id=instance.pk, version=version)


class ProjectSystemSerializer(ProjectPartSerializer):
    """A system the project touches: how far its integration is and who owns it."""

    system = serializers.PrimaryKeyRelatedField(queryset=System.objects.all())
    owner = UserField(required=False, allow_null=True)

    class Meta:
        model = ProjectSystem
        fields = ["id", "project", "system", *services.PROJECT_SYSTEM_FIELDS, "version"]
        read_only_fields = ["version"]
        validators: list = []

    def validate_system(self, system: System) -> System:
        if self.instance is not None and system.pk != self.instance.system_id:
            raise serializers.ValidationError(
                "This cannot move to another system; remove it and add that one."
            )
        return system

    def create(self, validated_data: dict[str, Any]) -> ProjectSystem:
        project = validated_data.pop("project")
        return services.project_system_add(
            actor=actor(self), project_id=project.pk, **validated_data
        )

    def update(self, instance: ProjectSystem, validated_data: dict[str, Any]) -> ProjectSystem:
        validated_data.pop("project", None)
        validated_data.pop("system", None)
        return services.project_system_update(
            actor=actor(self),
            project_system_id=instance.pk,
            changes=validated_data,
            version=expected_version(self),
        )


class ProjectSystemViewSet(ServiceViewSet):
    """The systems each project touches; the project's manager lists and updates them."""

    serializer_class = ProjectSystemSerializer
    permission_classes = [IsAuthenticated, ProjectPartPermission]
    filterset_class = ProjectSystemFilterSet

    def get_queryset(self) -> Any:
        return self.visible(ProjectSystem.objects.select_related("project", "system"))

    def delete_service(self, instance: ProjectSystem, version: Version = None) -> None:
        services.project_system_remove(
            actor=self.request.user, project_system_id=instance.pk, version=version
        )


# --- Benefits review


class MetricReadingPermission(BasePermission):
    """Readings are recorded and corrected by whoever may edit the metric's project."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        if view.action == "create":
            return permissions.can_create_project(request.user)
        return True

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return permissions.can_edit_project(request.user, obj.metric.project)


class MetricReadingSerializer(serializers.ModelSerializer):
    """A dated reading of a success metric (today unless `recorded_on` is given, never in the
    future); the metric's `current` follows its newest reading. The author is the caller."""

    metric = serializers.PrimaryKeyRelatedField(queryset=SuccessMetric.objects.all())
    recorded_on = serializers.DateField(required=False)

    class Meta:
        model = MetricReading
        fields = [
            "id",
            "metric",
            *services.METRIC_READING_FIELDS,
            "author",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["author", "version", "created_at", "updated_at"]

    def validate_metric(self, metric: SuccessMetric) -> SuccessMetric:
        if self.instance is not None and metric.pk != self.instance.metric_id:
            raise serializers.ValidationError("A reading cannot move to another metric.")
        return metric

    def create(self, validated_data: dict[str, Any]) -> MetricReading:
        metric = validated_data.pop("metric")
        return services.metric_reading_create(
            actor=actor(self), metric_id=metric.pk, **validated_data
        )

    def update(self, instance: MetricReading, validated_data: dict[str, Any]) -> MetricReading:
        validated_data.pop("metric", None)
        return services.metric_reading_update(
            actor=actor(self),
            reading_id=instance.pk,
            changes=validated_data,
            version=expected_version(self),
        )


class MetricReadingViewSet(ServiceViewSet):
    """Readings of projects' success metrics: recorded, corrected (If-Match) or deleted by
    whoever may edit the project."""

    serializer_class = MetricReadingSerializer
    permission_classes = [IsAuthenticated, MetricReadingPermission]
    filterset_class = MetricReadingFilterSet

    def get_queryset(self) -> Any:
        return self.visible(MetricReading.objects.select_related("metric__project"))

    def delete_service(self, instance: MetricReading, version: Version = None) -> None:
        services.metric_reading_delete(
            actor=self.request.user, reading_id=instance.pk, version=version
        )
