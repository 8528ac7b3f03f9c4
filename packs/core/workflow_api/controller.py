"""The workflow API's controllers share this base (docs/http-api.md): one path, tag, security scheme, error
answers and ``X-Workspace-Id`` header for all of them.

:class:`WorkflowApiController` is what each controller of ``/api/v1/workflows`` derives from (the executions,
approvals, signals, schedules and audit endpoints); :func:`errors` gives an operation's documented error
answers (``{"error": message}``, plus ``details`` naming the fields of a 422); :data:`EXCEPTION_HANDLERS` turn
the engine's and the tools' errors into them. :func:`identify`, :func:`audit`, :func:`service_of` and
:func:`json_object` are what every handler starts with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Controller, Request, Response
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.types import ExceptionHandlersMap
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.audit import record_action
from packs.core.http import API_PREFIX
from packs.core.http.errors import ErrorBody, InvalidBody, error_response, tool_error_response
from packs.core.http.params import BadRequestBodyError, decode_body
from packs.core.identity import Identity, IdentityError, authenticate
from packs.core.tools.errors import ValidationError
from packs.core.workflow import ExecutionError, ExecutionNotFoundError, ExecutionStateError, ResumeInputError
from packs.core.workflow_api.service import UnknownWorkflowError, WorkflowService


def _identity_error(_: Request[Any, Any, Any], error: IdentityError) -> Response[Any]:
    return error_response(error.status_code, {"error": error.message})


def not_found(_: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """A 404 ``{"error": message}`` (an exception handler)."""
    return error_response(404, {"error": str(error)})


def _conflict(_: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    return error_response(409, {"error": str(error)})


def _bad_resume(_: Request[Any, Any, Any], error: ResumeInputError) -> Response[Any]:
    return error_response(422, {"error": str(error), "details": error.details})


def _bad_body(_: Request[Any, Any, Any], error: BadRequestBodyError) -> Response[Any]:
    return error_response(400, {"error": str(error)})


def _tool_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """A 422 naming the fields, or any other exception as a logged 500, exactly as a tool's."""
    return tool_error_response(error, request)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    IdentityError: _identity_error,
    UnknownWorkflowError: not_found,
    ExecutionNotFoundError: not_found,
    ExecutionStateError: _conflict,
    ResumeInputError: _bad_resume,
    ExecutionError: _conflict,
    BadRequestBodyError: _bad_body,
    ValidationError: _tool_error,
    Exception: _tool_error,
}


ERRORS: Mapping[int, str] = {
    400: "Invalid JSON body, or several workspaces and no X-Workspace-Id",
    401: "Missing, malformed, unknown or revoked bearer token",
    403: "Not a member of the workspace",
    404: "No such workflow, or no such execution in this workspace",
    409: "The execution is not in a state that allows this, or the Idempotency-Key was used for another start",
    413: "Request body over the configured limit",
    422: "Invalid parameters; details names each one",
}
"""What each error answer of the workflow API means (an operation may say it its own way: :func:`errors`)."""


def errors(*statuses: int, described: Mapping[int, str] | None = None) -> dict[int, ResponseSpec]:
    """The OpenAPI error answers of an operation: 400, 401 and 403 (every operation authenticates) and
    ``statuses``, each described by ``described`` or else :data:`ERRORS`; a 422's body names the fields."""
    descriptions = {**ERRORS, **(described or {})}
    return {
        status: ResponseSpec(
            data_container=InvalidBody if status == 422 else ErrorBody,
            description=descriptions[status],
            generate_examples=False,
        )
        for status in (400, 401, 403, *statuses)
    }


WORKSPACE_HEADER = Parameter(
    str,
    header="X-Workspace-Id",
    schema_extra={"format": "uuid"},
    required=False,
    description="The workspace to act in (needed when the user belongs to several).",
)
"""The ``X-Workspace-Id`` header every workflow API operation documents."""


class WorkflowApiController(Controller):
    """The base of the workflow API's controllers: ``/api/v1/workflows``, tag ``workflows``, bearer tokens, the
    error answers of :data:`EXCEPTION_HANDLERS` and the ``X-Workspace-Id`` header (a subclass may narrow them)."""

    path = f"{API_PREFIX}/workflows"
    tags = ["workflows"]
    security = [{"bearerAuth": []}]
    exception_handlers = EXCEPTION_HANDLERS
    parameters = {"x_workspace_id": WORKSPACE_HEADER}


async def identify(request: Request[Any, Any, Any], session: AsyncSession) -> Identity:
    """The caller's identity (:class:`IdentityError` answers 400/401/403); the session is released at once."""
    try:
        return await authenticate(session, request.headers.get("authorization"), request.headers.get("x-workspace-id"))
    finally:
        await session.close()


async def audit(
    session: AsyncSession, identity: Identity, action: str, execution_id: str, details: dict[str, Any] | None = None
) -> None:
    """Record an API action on an execution in the audit log (docs/http-api.md, Audit log)."""
    try:
        await record_action(
            session,
            workspace_id=identity.workspace_id,
            actor_id=identity.user_id,
            action=action,
            target_id=execution_id,
            source="api",
            details=details,
        )
        await session.commit()
    finally:
        await session.close()


def service_of(request: Request[Any, Any, Any]) -> WorkflowService:
    """The app's workflow service."""
    service: WorkflowService = request.app.state.workflow_service
    return service


async def json_object(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The request's JSON object body (empty: ``{}``); 400 when it is not one, 413 when too large."""
    return decode_body(await request.body())


__all__ = [
    "EXCEPTION_HANDLERS",
    "WorkflowApiController",
    "audit",
    "errors",
    "identify",
    "json_object",
    "not_found",
    "service_of",
]
