"""JSON error answers: ``{"error": message}`` everywhere, as http-api.md specifies."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, MethodNotAllowedException

from packs.core.http import API_PREFIX
from packs.core.tools.errors import ForbiddenError, NotFoundError, ValidationError

logger = logging.getLogger("packflow")

GENERIC_MESSAGE = "an internal error occurred; the server log has the details"


def error_response(status_code: int, body: dict[str, Any]) -> Response[dict[str, Any]]:
    """A JSON answer with ``status_code``."""
    return Response(content=body, status_code=status_code, media_type="application/json")


def tool_error_response(error: Exception, *, production: bool) -> Response[dict[str, Any]]:
    """The answer for an exception a tool raised (http-api.md, Responses)."""
    if isinstance(error, ValidationError):
        return error_response(422, {"error": error.message, "details": error.details})
    if isinstance(error, NotFoundError | ForbiddenError):
        return error_response(error.status_code, {"error": str(error)})
    logger.exception("unhandled %s while running a tool", type(error).__name__)
    message = GENERIC_MESSAGE if production else str(error)
    return error_response(500, {"error": type(error).__name__, "message": message})


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    """Litestar's own HTTP errors (404, 413, ...) in the same ``{"error": ...}`` shape.

    Under ``/api/v1`` a method that no route takes (HEAD, TRACE, ...) is 404, never 405: every
    method is answered by a tool or by nobody.
    """
    if isinstance(exc, MethodNotAllowedException) and request.url.path.startswith(f"{API_PREFIX}/"):
        return error_response(404, {"error": f"no tool answers {request.method} {request.url.path}"})
    body: dict[str, Any] = {"error": exc.detail}
    if exc.extra:
        body["details"] = exc.extra
    return Response(content=body, status_code=exc.status_code, headers=exc.headers, media_type="application/json")
