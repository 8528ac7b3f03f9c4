"""JSON error answers: ``{"error": message}`` everywhere (docs/http-api.md, Responses).

An exception nobody expected is a 500 whose body says only its class, a generic message and the
request id, in every environment: its message (which may quote SQL and its parameters) and its
traceback go to the log, under the same request id.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, MethodNotAllowedException

from packs.core.http import API_PREFIX
from packs.core.http.edge import request_id
from packs.core.tools.errors import ForbiddenError, NotFoundError, ValidationError

logger = logging.getLogger("packflow")

GENERIC_MESSAGE = "an internal error occurred; the server log has the details under this request_id"
CLIENT_DISCONNECTED = "client disconnected prematurely"
"""The detail of the 500 Litestar raises while reading a body whose client went away (``Request.stream``)."""
DISCONNECTED_MESSAGE = "the client disconnected before its request body arrived"


class ErrorBody(msgspec.Struct):
    """``{"error": message}``."""

    error: str


class InvalidBody(msgspec.Struct):
    """``{"error": message, "details": {field: problem}}``."""

    error: str
    details: dict[str, str]


def error_response(status_code: int, body: dict[str, Any]) -> Response[dict[str, Any]]:
    """A JSON answer with ``status_code``."""
    return Response(content=body, status_code=status_code, media_type="application/json")


def tool_error_response(error: Exception, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """The answer for an exception a tool (or a handler) raised: 422, 404, 403, or a logged 500."""
    if isinstance(error, ValidationError):
        return error_response(422, {"error": error.message, "details": error.details})
    if isinstance(error, NotFoundError | ForbiddenError):
        return error_response(error.status_code, {"error": str(error)})
    return internal_error_response(error, request)


def internal_error_response(error: BaseException, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """500 ``{"error": ClassName, "message": generic, "request_id": id}``; the log has the rest."""
    request_key = request_id(request.scope)
    name = type(error).__name__
    logger.error(
        "unhandled %s on %s %s (request_id %s)",
        name,
        request.method,
        request.url.path,
        request_key,
        exc_info=(type(error), error, error.__traceback__),
    )
    return error_response(500, {"error": name, "message": GENERIC_MESSAGE, "request_id": request_key})


def unhandled_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """The app's handler for any exception no route handled: the same answers as a tool's."""
    return tool_error_response(exc, request)


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    """Litestar's own HTTP errors (404, 413, ...) in the same ``{"error": ...}`` shape.

    Under ``/api/v1`` a method that no route takes (HEAD, TRACE, ...) is 404, never 405: every
    method is answered by a tool or by nobody. Litestar's own 500 (e.g. a misconfiguration) is
    logged and answered as any other 500, except the one for a client that disconnected mid-body: a 400
    nobody receives, logged at INFO.
    """
    if exc.status_code == 500 and exc.detail == CLIENT_DISCONNECTED:
        # Nobody is left to answer and nothing failed here: not an internal error (nothing was read, so nothing ran).
        where = (request.method, request.url.path, request_id(request.scope))
        logger.info("%s on %s %s (request_id %s)", DISCONNECTED_MESSAGE, *where)
        return error_response(400, {"error": DISCONNECTED_MESSAGE})
    if exc.status_code == 500:
        return internal_error_response(exc, request)
    if isinstance(exc, MethodNotAllowedException) and request.url.path.startswith(f"{API_PREFIX}/"):
        return error_response(404, {"error": f"no tool answers {request.method} {request.url.path}"})
    body: dict[str, Any] = {"error": exc.detail}
    if exc.extra:
        body["details"] = exc.extra
    return Response(content=body, status_code=exc.status_code, headers=exc.headers, media_type="application/json")
