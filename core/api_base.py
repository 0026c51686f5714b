"""Base classes every resource's API builds on: auth, the token endpoint, permissions, the
schema's error responses and the service-calling viewset."""

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from django.db import transaction
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from . import money, permissions
from .throttling import FailOpenThrottleMixin

# --- Schema: every operation documents its error answers, so generated clients can parse them.


class ErrorSerializer(serializers.Serializer):
    """Any non-validation error: 401, 403, 404, 409, 429."""

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
    "409": _error(
        "Conflict: other records still depend on the object, or it changed state meanwhile."
    ),
    "412": _error(
        "Precondition failed: the If-Match version is not the stored one; someone changed the "
        "object since you read it. GET it again (ETag) and re-apply your change."
    ),
    "429": _error("Too many requests; retry after the number of seconds in Retry-After."),
}


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the error responses every operation can give."""

    def _error_codes(self) -> list[str]:
        codes = ["400"]
        view_permissions = getattr(self.view, "permission_classes", [])
        # The public endpoints (the token exchange) check no role and delete or change nothing
        # another request could depend on: no 401/403/404, and no 409.
        if AllowAny not in view_permissions:
            codes += ["401", "403", "404"]
            if self.method in ("POST", "PUT", "PATCH", "DELETE"):
                codes.append("409")
        if getattr(self.view, "throttle_scope", None):
            codes.append("429")
        return codes

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
    """`Authorization: Token <key>`. Listed first so anonymous requests get 401, not 403."""


API_AUTHENTICATION = [ApiTokenAuthentication, SessionAuthentication]


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenThrottle(FailOpenThrottleMixin, ScopedRateThrottle):
    """Token attempts per client address (REMOTE_ADDR, or X-Forwarded-For as far back as
    NUM_PROXIES trusts), at the scope's rate from the current settings (DRF's own class reads
    them once at import, so tests could not override the rate)."""

    def get_rate(self) -> str | None:
        from rest_framework.settings import api_settings

        rate = api_settings.DEFAULT_THROTTLE_RATES.get(str(self.scope))
        return None if rate is None else str(rate)


class TokenUsernameThrottle(TokenThrottle):
    """Token attempts per username tried, at the same rate, from whatever addresses: guessing
    one account's password from many addresses is limited too.

    The trade-off: someone hammering a username also holds its owner off the token endpoint for
    the throttle's window (signing in to the pages is not affected)."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        data = request.data
        username = data.get("username") if isinstance(data, Mapping) else None
        if not isinstance(username, str) or not username.strip():
            return None  # nothing to guess at; the per-address throttle still counts it
        # Case and surrounding blanks folded so variants share a bucket; hashed to keep the
        # cache key short and free of whatever characters the client sent.
        ident = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
        return self.cache_format % {"scope": f"{self.scope}-username", "ident": ident}


class TokenView(APIView):
    """Exchange a username and password for an API token (throttled against guessing)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenThrottle, TokenUsernameThrottle]
    throttle_scope = "token"
    schema = ApiAutoSchema()

    @extend_schema(
        operation_id="auth_token_create",
        request=TokenRequestSerializer,
        responses={200: inline_serializer("Token", {"token": serializers.CharField()})},
        auth=[],
    )
    def post(self, request: Request) -> Response:
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
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


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


class ApiViewSet(viewsets.GenericViewSet):
    """Auth, schema and the one visible-to-user queryset for every resource."""

    authentication_classes = API_AUTHENTICATION
    schema = ApiAutoSchema()

    def visible(self, queryset: Any) -> Any:
        return permissions.visible_to(queryset, self.request.user)

    def filter_queryset(self, queryset: Any) -> Any:
        # Filters, search and ordering shape lists. A detail route (and its actions) finds the
        # object by id whatever the query string says: a resolved flag, which the flag list
        # leaves out by default, is still at /api/flags/{id}/.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)


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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not callable(getattr(cls, "delete_service", None)):
            raise TypeError(f"{cls.__name__} must define delete_service(instance, version).")

    def expected_version(self) -> int | None:
        """The version named by If-Match ("*" or none: no precondition)."""
        header = self.request.headers.get("If-Match", "").strip()
        if not header or header == "*":
            return None
        tag = header.split(",")[0].strip().removeprefix("W/").strip('"')
        try:
            return int(tag)
        except ValueError:
            raise ParseError(
                f'If-Match must be an ETag this API gave out (e.g. "3"), not {header!r}.'
            ) from None

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


def actor(serializer: serializers.BaseSerializer) -> Any:
    """The user making the request, for the services' `actor`."""
    return serializer.context["request"].user


def expected_version(serializer: serializers.BaseSerializer) -> int | None:
    """The version the client's If-Match names, for the services' `version`."""
    return serializer.context.get("version")


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
