"""One error body for every 4xx/5xx: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from lipservice_sdk.policy import PolicyFormatError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

# Errors that carry `issues` (a refused policy) and answer 400 `invalid_policy`; apps add their own at start-up so
# this module, at the bottom of the layers, imports no app.
_REFUSED_POLICY_ERRORS: list[type[Exception]] = [PolicyFormatError]


def refused_policy_error_register(exc_type: type[Exception]) -> None:
    """Map an app's error carrying `issues` (a sequence of `PolicyIssue`) to the one `invalid_policy` body."""
    if exc_type not in _REFUSED_POLICY_ERRORS:
        _REFUSED_POLICY_ERRORS.append(exc_type)


class DomainError(Exception):
    """An error our own code raises on purpose; subclasses choose the HTTP status and code."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    code = "invalid"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


class ServiceUnavailable(DomainError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "unavailable"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details if details is not None else {}}}


def _first_error(detail: Any) -> tuple[list[str], str]:
    """The path (field names and list indexes) and text of the first error in a nested DRF error detail."""
    if isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, dict | list):
                if item:
                    path, text = _first_error(item)
                    return ([f"[{index}]", *path] if isinstance(item, dict) else path), text
            else:
                return [], str(item)
        return [], ""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if not value:
                continue
            path, text = _first_error(value)
            if key == "non_field_errors":
                return path, text
            # Nested lists of objects report their errors by index (`{"stats": {1: {"seen": [...]}}}`).
            head = f"[{key}]" if isinstance(key, int) or str(key).isdigit() else str(key)
            return [head, *path], text
        return [], ""
    return [], str(detail)


def _first_message(detail: Any) -> str:
    path, text = _first_error(detail)
    name = "".join(part if part.startswith("[") or not i else f".{part}" for i, part in enumerate(path))
    return f"{name}: {text}" if name else text


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, tuple(_REFUSED_POLICY_ERRORS)):
        errors = [issue.as_dict() for issue in getattr(exc, "issues", ())]
        message = "The policy was refused and nothing was stored. " + "; ".join(
            f"{e['path']}: {e['message']}" for e in errors[:5]
        )
        return Response(error_body("invalid_policy", message, {"errors": errors}), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is down or restarting: a condition to retry (SDKs back off on 503), not a bug to page on.
        logger.warning("database unavailable: %s", str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
        return Response(
            error_body(ServiceUnavailable.code, "The database is unavailable; retry shortly."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    if isinstance(exc, ValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        return Response(
            error_body("server_error", "An internal error occurred; it has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "invalid"
        details: Any = exc.detail if isinstance(exc, exceptions.ValidationError) else {}
        message = "Invalid input. " + _first_message(exc.detail) if code == "invalid" else _first_message(exc.detail)
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            details = {"retry_after_seconds": int(wait + 0.999)}
        response.data = error_body(code, message, details)
    elif isinstance(exc, Http404):
        response.data = error_body("not_found", "Not found.")
    elif isinstance(exc, PermissionDenied):
        response.data = error_body("permission_denied", "You do not have permission to perform this action.")
    return response


def _json_error(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return _json_error(404, "not_found", f"No route for {request.path}.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return _json_error(500, "server_error", "An internal error occurred; it has been logged.")
    return defaults.server_error(request)
