"""Shared REST API pieces that settings point at: pagination, the search backend and the JSON
error handler (filters and orderings are each resource's FilterSet, see core.filters).

Kept free of view imports: DRF imports this module while it is itself still loading
(DEFAULT_PAGINATION_CLASS), so the base classes live in core.api_base."""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, OperationalError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import filters, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .counts import CountingPaginator
from .services import EditConflict, ServiceUnavailable


class Pagination(PageNumberPagination):
    """{"count", "next", "previous", "results"}; clients may ask for up to 200 per page."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    # A whole big table's count is kept, not recounted per page (core.counts).
    django_paginator_class = CountingPaginator


class SearchFilter(filters.SearchFilter):
    """DRF's search; a refused search term (a NUL character) is reported under `search`."""

    def get_search_terms(self, request: Request) -> list[str]:
        try:
            return super().get_search_terms(request)
        except ValidationError as exc:
            raise ValidationError({self.search_param: exc.detail}) from exc


def _django_validation_detail(exc: DjangoValidationError) -> Any:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {"non_field_errors": exc.messages}


# PostgreSQL's codes for a deadlock and a serialization failure: two writes collided.
_COLLISION_CODES = {"40P01", "40001"}


def write_collision(exc: BaseException) -> str | None:
    """The message for a write that lost a race with another request (a row it refers to was
    deleted meanwhile, or the database broke a deadlock between them), or None for any other
    error. Pages (core.middleware) and the API answer it with 409."""
    if isinstance(exc, IntegrityError):
        return (
            "Conflict: something this change refers to was changed or deleted by another "
            "request at the same moment. Nothing was saved; reload and try again."
        )
    if isinstance(exc, OperationalError):
        code = getattr(getattr(exc, "__cause__", None), "pgcode", None) or getattr(
            getattr(exc, "__cause__", None), "sqlstate", None
        )
        if code in _COLLISION_CODES:
            return (
                "Conflict: another request changed the same records at the same moment. "
                "Nothing was saved; try again."
            )
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Turn service errors into JSON: 400 naming the field, 403, 409 for protected deletes and
    for writes that collided with another request, 412 for an If-Match that names a version
    that is no longer stored, 503 when a backing service (the task queue) is unreachable."""
    collision = write_collision(exc)
    if collision is not None:
        from rest_framework.views import set_rollback

        set_rollback()
        return Response({"detail": collision}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, EditConflict):
        return Response({"detail": str(exc)}, status=status.HTTP_412_PRECONDITION_FAILED)
    if isinstance(exc, ServiceUnavailable):
        return Response(
            {"detail": str(exc)},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(exc.retry_after_seconds)},
        )
    if isinstance(exc, DjangoValidationError):
        # A protected delete, or a flag that another user or a scan changed meanwhile.
        if getattr(exc, "code", None) in ("protected", "stale", "invalid_state"):
            return Response({"detail": exc.messages[0]}, status=status.HTTP_409_CONFLICT)
        exc = ValidationError(_django_validation_detail(exc))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = PermissionDenied(str(exc) or None)
    elif isinstance(exc, (ProtectedError, RestrictedError)):
        names = (
            sorted({str(obj) for obj in exc.protected_objects})[:5]
            if isinstance(exc, ProtectedError)
            else []
        )
        message = "Cannot delete: other records still depend on it"
        if names:
            message += f" ({', '.join(names)})"
        return Response({"detail": message + "."}, status=status.HTTP_409_CONFLICT)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        # A bare ValidationError("message") has a list as its detail; clients expect a map.
        response.data = {"non_field_errors": response.data}
    return response
