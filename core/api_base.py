"""Base classes every resource's API builds on: auth, the token endpoint, permissions, the
schema's error responses and the service-calling viewset."""

import binascii
import functools
from collections.abc import Callable, Mapping
from hmac import compare_digest
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import CharField
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS, knox_settings
from rest_framework import mixins, serializers, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, ParseError, ValidationError
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission, IsAuthenticated
from rest_framework.relations import ManyRelatedField
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import audit, money, permissions, tokens
from .lists import rows_in_order
from .slots import KeptValues, Slot

# --- Schema: every operation documents its error answers, so generated clients can parse them.


class ErrorSerializer(serializers.Serializer):
    """Any error that is not about fields: 401, 403, 404, 406, 409, 412, 415, 429, 503."""

    detail = serializers.CharField()


# 400: {"field": ["message", ...]}; nested link errors nest the same way, so values stay open.
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": 'Field errors, e.g. {"title": ["This field is required."]}; '
    '"non_field_errors" and "detail" carry errors about the whole request.',
    "additionalProperties": {},
}


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description)


ERROR_RESPONSES = {
    "400": OpenApiResponse(
        response=VALIDATION_ERROR_SCHEMA, description="Bad input: a map of field to messages."
    ),
    "401": _error("Not authenticated."),
    "403": _error("Not allowed for your role."),
    "404": _error("Not found (or not visible to you)."),
    "406": _error("Not acceptable: every answer is JSON; the Accept header must allow it."),
    "409": _error(
        "Conflict: other records still depend on the object, it changed state meanwhile, or "
        "another request changed the same records at the same moment."
    ),
    "412": _error(
        "Precondition failed: the If-Match version is not the stored one; someone changed the "
        "object since you read it. GET it again (ETag) and re-apply your change."
    ),
    "415": _error("Unsupported media type: send the body as JSON (or as a form)."),
    "429": _error("Too many requests; retry after the number of seconds in Retry-After."),
    "503": _error(
        "Service unavailable: a backing service (the task queue) did not answer; nothing was "
        "started. Retry after the number of seconds in Retry-After."
    ),
}

# Every 429 and 503 says how long to wait (axes' lockout, DRF's throttles, ServiceUnavailable).
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    required=True,
    response=[429, 503],
    description="Seconds to wait before trying again.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag of the version you edited (e.g. "3"; several, comma-separated, or '
    '"*"). The write is refused with 412 when the stored version is not among them; without '
    "the header each field sent is last-writer-wins.",
)


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the error responses every operation can give: a generated
    client, and schemathesis's status check, see every status the operation answers."""

    def _error_codes(self) -> list[str]:
        # 400 everywhere: a NUL character or an oversized body is refused before any view
        # (core.middleware). 406: the Accept header is negotiated on every operation.
        codes = ["400", "406"]
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            codes.append("415")  # a body in a media type no parser reads
        # The public endpoints (the token exchange) check no role and delete or change nothing
        # another request could depend on: no 401/403/404, and no 409.
        if AllowAny not in [type(p) for p in self.view.get_permissions()]:
            codes += ["401", "403"]
            # An object by id, or a page number past the end of a list.
            if "{" in self.path or (self._is_list_view() and self._get_paginator()):
                codes.append("404")
            if self.method in ("POST", "PUT", "PATCH", "DELETE"):
                codes.append("409")
        if self._honours_if_match():
            codes.append("412")
        if self.view.get_throttles() or self.method in getattr(self.view, "lockout_methods", ()):
            codes.append("429")
        return codes

    def _honours_if_match(self) -> bool:
        """Whether this operation compares If-Match with the stored version (412 when not).
        Views list the handlers (viewset actions, or method names) in `if_match_handlers`."""
        handler = getattr(self.view, "action", None) or self.method.lower()
        return handler in getattr(self.view, "if_match_handlers", ())

    def get_override_parameters(self) -> list[Any]:
        parameters = [*super().get_override_parameters(), RETRY_AFTER]
        if self._honours_if_match():
            parameters.append(IF_MATCH)
        return parameters

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    ERROR_RESPONSES[code], code, direction=direction
                )
        return responses


# --- Authentication


class ApiTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` checked against knox's hashed, expiring tokens. Listed
    first so anonymous requests get 401, not 403.

    One statement per request, compiled once per process and prepared on PostgreSQL
    (`_token_statement`): the tokens with the key's prefix, with their user and the user's
    roles (core.permissions.role_annotations, so they need no query of their own). Compiling
    that query cost more than running it, on every API request. Knox's check also reads every
    other token of the user on each request, to delete the expired ones; here an expired token
    is deleted when it is presented (and refused), and a user's other expired tokens when they
    are issued a new one (core.tokens.issue_token)."""

    def authenticate_credentials(self, token: bytes) -> tuple[Any, AuthToken]:
        invalid = AuthenticationFailed(_("Invalid token."))
        try:
            key = token.decode("utf-8")
            digest = hash_token(key)
        except (UnicodeDecodeError, TypeError, binascii.Error):
            raise invalid from None
        for auth_token in _tokens_with_user_and_roles(key[: CONSTANTS.TOKEN_KEY_LENGTH]):
            if not compare_digest(digest, auth_token.digest):
                continue
            if auth_token.expiry is not None and auth_token.expiry < timezone.now():
                auth_token.delete()
                raise invalid
            if knox_settings.AUTO_REFRESH and auth_token.expiry:
                self.renew_token(auth_token)
            return self.validate_user(auth_token)
        raise invalid


def _tokens_with_user_and_roles(token_key: str) -> list[AuthToken]:
    """The tokens with this key prefix, each with its user, whose roles are remembered."""
    token_fields, user_fields, statement = _token_statement()
    tokens = []
    for row in statement.rows({"token_key": token_key}):
        auth_token = AuthToken.from_db(
            DEFAULT_DB_ALIAS, token_fields, [row[name] for name in token_fields]
        )
        user = get_user_model().from_db(
            DEFAULT_DB_ALIAS, user_fields, [row[f"user__{name}"] for name in user_fields]
        )
        permissions.remember_roles(user, row)
        auth_token.user = user
        tokens.append(auth_token)
    return tokens


@functools.cache
def _token_statement() -> tuple[list[str], list[str], KeptValues]:
    token_fields = [field.attname for field in AuthToken._meta.concrete_fields]
    user_fields = [field.attname for field in get_user_model()._meta.concrete_fields]
    roles = permissions.role_annotations("user_id")
    statement = KeptValues(
        lambda: (
            AuthToken.objects.filter(token_key=Slot("token_key", CharField()))
            .annotate(**roles)
            .values(*token_fields, *(f"user__{name}" for name in user_fields), *roles)
        )
    )
    return token_fields, user_fields, statement


API_AUTHENTICATION = [ApiTokenAuthentication, SessionAuthentication]


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The schema's name and shape for the token header (same as DRF's TokenAuthentication
    had, so generated clients keep working)."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict:
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Token"
        )


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenView(APIView):
    """POST: exchange a username and password for a new API token. DELETE: revoke the token
    the request is authenticated with.

    Guessing is stopped by the sign-in lockout (django-axes, via authenticate()): failures
    per username and per address, the same count as the login pages; a locked-out attempt
    answers 429 with Retry-After (crm_alignment.accounts.locked_out)."""

    lockout_methods = ("POST",)  # the schema documents the lockout's 429 on sign-in
    schema = ApiAutoSchema()

    def get_authenticators(self) -> list:
        # POST is the sign-in itself: a stale token header must not stand in its way.
        if self.request is not None and self.request.method == "DELETE":
            return [ApiTokenAuthentication()]
        return []

    def get_permissions(self) -> list:
        if self.request.method == "DELETE":
            return [IsAuthenticated()]
        return [AllowAny()]

    @extend_schema(
        operation_id="auth_token_create",
        request=TokenRequestSerializer,
        responses={
            200: inline_serializer(
                "Token",
                {"token": serializers.CharField(), "expiry": serializers.DateTimeField()},
            )
        },
        auth=[],
        description="Exchange a username and password for a new API token, valid for "
        "API_TOKEN_TTL days. Failed attempts count towards the sign-in lockout (429).",
    )
    def post(self, request: Request) -> Response:
        from axes.utils import reset
        from django.contrib.auth import authenticate

        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None or not user.is_active:
            raise ValidationError({"non_field_errors": ["Unable to sign in with those details."]})
        # A success resets this username's failure count, as a page sign-in does.
        reset(username=user.get_username().strip().casefold())
        key, expiry = tokens.issue_token(user)
        return Response({"token": key, "expiry": expiry})

    @extend_schema(
        operation_id="auth_token_destroy",
        request=None,
        responses={204: None},
        description="Revoke the token this request is authenticated with.",
    )
    def delete(self, request: Request) -> Response:
        auth_token: Any = request.auth  # the knox AuthToken this request authenticated with
        tokens.revoke_token(request.user, auth_token.token_key)
        return Response(status=204)


# --- Permissions and the base viewset


class StrategyPermission(BasePermission):
    """Goals, KPIs and strategies: everyone with a role reads, executives (and admins) write.

    Users without a role may "write" as far as the object lookup, which answers 404: they must
    not learn what exists. Creating has no object, so they get 403 like any other role."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        if view.action == "create" or permissions.can_read(request.user):
            return permissions.can_manage_strategy(request.user)
        return True


class HistoryObjectSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="The object's kind: project, feature, projectlink, …")
    id = serializers.IntegerField(allow_null=True)
    title = serializers.CharField(help_text="How the object was named when it changed.")


class HistoryEntrySerializer(serializers.Serializer):
    """One recorded change (core.audit)."""

    id = serializers.IntegerField()
    at = serializers.DateTimeField(source="timestamp")
    user = serializers.SerializerMethodField(help_text="Username; null for a scan or system.")
    channel = serializers.ChoiceField(choices=audit.CHANNELS)
    action = serializers.SerializerMethodField()
    object = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField(
        help_text="{field: [old, new]}; on a create old is null, on a delete new is null."
    )
    restored_from = serializers.SerializerMethodField(
        help_text="For a restore: the id of the entry that recorded the deletion."
    )

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_user(self, entry: Any) -> str | None:
        return entry.actor.get_username() if entry.actor_id else None

    @extend_schema_field(serializers.ChoiceField(choices=list(audit.ACTION_NAMES.values())))
    def get_action(self, entry: Any) -> str:
        return audit.action_name(entry.action)

    @extend_schema_field(HistoryObjectSerializer)
    def get_object(self, entry: Any) -> dict[str, Any]:
        model = entry.content_type.model_class()
        kind = audit.kind_of(model) if model else entry.content_type.model
        return {"type": kind, "id": entry.object_id, "title": entry.object_repr}

    @extend_schema_field(
        serializers.DictField(child=serializers.ListField(child=serializers.JSONField()))
    )
    def get_changes(self, entry: Any) -> dict[str, Any]:
        return audit.changes_of(entry)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_restored_from(self, entry: Any) -> int | None:
        return (entry.additional_data or {}).get("restored_from")


class HistoryPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = HistoryEntrySerializer(many=True)


class ApiViewSet(viewsets.GenericViewSet):
    """Auth, schema and the one visible-to-user queryset for every resource; every resource
    answers its change history at `{id}/history/`."""

    authentication_classes = API_AUTHENTICATION
    schema = ApiAutoSchema()

    @extend_schema(
        summary="The object's change history, newest first",
        description=(
            "Who changed what, when and through which channel (page, api, admin, import, "
            "scan, system). A goal's, strategy's, project's or feature's history holds its "
            "parts' changes too (a project's: its links, features, metrics, phases, check-ins "
            "and flags). A deleted object's history stays readable at its old id."
        ),
        request=None,
        responses=HistoryPageSerializer,
        filters=False,
        parameters=[
            OpenApiParameter("page", OpenApiTypes.INT, description="Page number."),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="At most 200."),
        ],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def history(self, request: Request, pk: Any = None) -> Response:
        try:
            obj = self.get_object()
        except Http404:
            # A deleted object: its history (and the entry to restore it from) stays readable
            # to whoever may read; an id that never existed is 404 like any other.
            model = self.get_queryset().model
            if not permissions.can_read(request.user) or audit.deletion(model, pk) is None:
                raise
            obj = model(pk=int(pk))
        entries = audit.history_of(obj).select_related("content_type")
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(HistoryEntrySerializer(page, many=True).data)

    def visible(self, queryset: Any) -> Any:
        return permissions.visible_to(queryset, self.request.user)

    def page_rows(self) -> Any:
        """For a list whose rows carry costly per-row figures, the queryset that computes them
        (None otherwise). The list's `get_queryset()` then only has to filter and order: it is
        paginated as ids, and the page's objects are read from this for those ids alone."""
        return None

    def paginate_queryset(self, queryset: Any) -> Any:
        rows = self.page_rows() if self.action == "list" else None
        if rows is None:
            return super().paginate_queryset(queryset)
        ids = super().paginate_queryset(queryset.values_list("pk", flat=True))
        return None if ids is None else rows_in_order(rows, ids)

    def filter_queryset(self, queryset: Any) -> Any:
        # Filters, search and ordering shape lists. A detail route (and its actions) finds the
        # object by id whatever the query string says: a resolved flag, which the flag list
        # leaves out by default, is still at /api/flags/{id}/.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)


def if_match(request: Request) -> int | list[int] | None:
    """The version(s) an If-Match header names ("*" or none: no precondition). With several
    tags, the write passes if the stored version is any of them (RFC 9110)."""
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        return None
    versions = []
    for tag in header.split(","):
        try:
            versions.append(int(tag.strip().removeprefix("W/").strip('"')))
        except ValueError:
            raise ParseError(
                f'If-Match must list ETags this API gave out (e.g. "3"), not {header!r}.'
            ) from None
    return versions[0] if len(versions) == 1 else versions


def etag(obj: Any) -> str | None:
    """The ETag of a versioned object: its version, quoted."""
    version = getattr(obj, "version", None)
    return f'"{version}"' if version is not None else None


class ServiceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    """CRUD where the serializer's create/update call services and delete calls `delete_service`.

    After a write the object is read back through the viewset's selector, so the answer carries
    the same annotations a GET would. Writes run in one transaction (links and fields together).
    Versioned objects answer with an `ETag`; a write sent with `If-Match` is refused with 412
    when the object changed since (without it, each field sent is last-writer-wins).
    """

    # Each resource names the service that deletes its objects; checked when the class is made,
    # so a viewset without one fails at import, not on its first DELETE.
    delete_service: Callable[..., None]
    # The writes that check If-Match (the schema documents the header and the 412 for them).
    if_match_handlers: tuple[str, ...] = ("update", "partial_update", "destroy")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not callable(getattr(cls, "delete_service", None)):
            raise TypeError(f"{cls.__name__} must define delete_service(instance, version).")

    def expected_version(self) -> int | list[int] | None:
        return if_match(self.request)

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if self.request is not None and self.request.method not in SAFE_METHODS:
            context["version"] = self.expected_version()
        return context

    def _reload(self, serializer: serializers.BaseSerializer) -> None:
        assert serializer.instance is not None
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)
        if hasattr(serializer, "_data"):
            del serializer._data

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.detail and 200 <= response.status_code < 300 and self.action != "destroy":
            obj = getattr(self, "_etag_object", None)
            tag = etag(obj) if obj is not None else None
            if tag:
                response["ETag"] = tag
        return response

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self._etag_object = self.get_object()
        return Response(self.get_serializer(self._etag_object).data)

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            serializer.save()
        self._reload(serializer)
        self._etag_object = serializer.instance

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            serializer.save()
        self._reload(serializer)
        self._etag_object = serializer.instance

    def perform_destroy(self, instance: Any) -> None:
        with transaction.atomic():
            self.delete_service(instance, self.expected_version())


class RestoredSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The restored object's id: its old one.")
    skipped = serializers.ListField(
        child=serializers.CharField(),
        help_text="Parts of the deleted object that were not restored, and why.",
    )


class RestoreMixin:
    """`POST {id}/restore/`: bring back the deleted object with that id from its history
    (executives and admins), through the resource's `restore_service(actor, pk)`."""

    def restore_service(self, actor: Any, pk: Any) -> Any:
        raise NotImplementedError

    @extend_schema(
        summary="Restore the deleted object with this id from its history",
        description=(
            "Executives and admins. The object comes back under its old id with the parts its "
            "deletion took with it where what they refer to still exists (a project: its "
            "links, features and their links, metrics, phases and check-ins); `skipped` says "
            "what stayed deleted and why. 404 when no deletion of this id is recorded; 400 "
            "when the object exists or cannot come back (a title taken meanwhile)."
        ),
        request=None,
        responses={201: RestoredSerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def restore(self, request: Request, pk: Any = None) -> Response:
        with transaction.atomic():
            restored = self.restore_service(request.user, pk)
        return Response({"id": restored.object.pk, "skipped": restored.skipped}, status=201)


def actor(serializer: serializers.BaseSerializer) -> Any:
    """The user making the request, for the services' `actor`."""
    return serializer.context["request"].user


def expected_version(serializer: serializers.BaseSerializer) -> int | None:
    """The version the client's If-Match names, for the services' `version`."""
    return serializer.context.get("version")


# The most ids (or links) one request may send in a list: far above any real project (a few
# dozen links), low enough that a hostile list is refused before it costs anything.
MAX_LIST_LENGTH = 200
# The largest id a database column holds; a larger one cannot exist (and would overflow).
MAX_ID = 2**63 - 1


def check_list_length(items: Any) -> None:
    """400 when a list sent by a client is longer than MAX_LIST_LENGTH."""
    if len(items) > MAX_LIST_LENGTH:
        raise ValidationError(
            f"At most {MAX_LIST_LENGTH} items may be sent in one list; this one has {len(items)}."
        )


class IdListField(ManyRelatedField):
    """A list of ids of one model: at most MAX_LIST_LENGTH, all resolved in one query (DRF's
    `many=True` runs one query per id). Answers the objects in the order sent, duplicates
    dropped."""

    def to_internal_value(self, data: Any) -> list[Any]:
        if isinstance(data, (str, Mapping)) or not hasattr(data, "__iter__"):
            self.fail("not_a_list", input_type=type(data).__name__)
        items = list(data)
        if not self.allow_empty and not items:
            self.fail("empty")
        check_list_length(items)
        ids = []
        for item in items:
            if isinstance(item, bool) or not isinstance(item, (int, str)):
                self.child_relation.fail("incorrect_type", data_type=type(item).__name__)
            try:
                ids.append(int(item))
            except ValueError:
                self.child_relation.fail("incorrect_type", data_type=type(item).__name__)
        wanted = [pk for pk in dict.fromkeys(ids) if 0 < pk <= MAX_ID]
        queryset = self.child_relation.get_queryset()
        assert queryset is not None  # every IdListField's child names its queryset
        found = queryset.in_bulk(wanted)
        missing = [pk for pk in dict.fromkeys(ids) if pk not in found]
        if missing:
            self.child_relation.fail("does_not_exist", pk_value=missing[0])
        return [found[pk] for pk in dict.fromkeys(ids)]


class UserField(serializers.PrimaryKeyRelatedField):
    """A user by id (active users only)."""

    def get_queryset(self) -> Any:
        from django.contrib.auth import get_user_model

        return get_user_model().objects.filter(is_active=True)


@extend_schema_field(
    {
        "type": "string",
        "pattern": "^[A-Z]{3}$",
        "example": "EUR",
        "description": "ISO 4217 code of the currency every amount here is in (the CURRENCY "
        "setting); amounts are decimal strings to the cent.",
        "readOnly": True,
    }
)
class CurrencyField(serializers.Field):
    """Read-only: the deployment's currency code, next to the amounts it applies to."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        kwargs["source"] = "*"
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str:
        return money.currency()
