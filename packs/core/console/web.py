"""What every console page shares: the signed-in user (and the CSRF check of every state-changing form), the
page renderer and the error pages (README, "The operations console")."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.response import Redirect, Template
from litestar.types import ExceptionHandlersMap
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.console.inbox import pending_count
from packs.core.console.sessions import COOKIE, ConsoleUser, csrf_matches, session_user
from packs.core.http.params import query_problems
from packs.core.identity.authenticate import IdentityError
from packs.core.tools.errors import ForbiddenError, NotFoundError, ValidationError
from packs.core.workflow import ExecutionError, ExecutionNotFoundError
from packs.core.workflow_api.service import UnknownWorkflowError, WorkflowService

PREFIX = "/console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class NotSignedInError(Exception):
    """The request has no live console session."""


class CsrfError(Exception):
    """A state-changing request without the session's CSRF token."""


async def signed_in(request: Request[Any, Any, Any], db_session: AsyncSession) -> ConsoleUser:
    """The signed-in user; :class:`NotSignedInError` without a live session, :class:`CsrfError` when a
    state-changing request does not carry the session's CSRF token (form field ``csrf_token`` or header
    ``X-CSRF-Token``)."""
    try:
        user = await session_user(db_session, request.cookies.get(COOKIE))
    finally:
        await db_session.close()
    if user is None:
        raise NotSignedInError
    if request.method in STATE_CHANGING:
        given = request.headers.get(CSRF_HEADER)
        if given is None:
            form = await request.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
        if not csrf_matches(user.csrf_token, given):
            raise CsrfError
        await _refuse_bad_fields(request)
    return user


async def _refuse_bad_fields(request: Request[Any, Any, Any]) -> None:
    """A 422 naming each form field sent as a file (no console form takes one), else each whose name or value
    holds a NUL (PostgreSQL cannot store one): nothing of such a form is written."""
    form = await request.form()
    files = {name: "must be text, not a file" for name, value in form.multi_items() if not isinstance(value, str)}
    if files:
        raise ValidationError(f"The form sent a file for {', '.join(sorted(files))}: it takes text.", files)
    problems = query_problems((name, value) for name, value in form.multi_items() if isinstance(value, str))
    if problems:
        raise ValidationError("These fields must not contain NUL characters: " + ", ".join(sorted(problems)), problems)


def service_of(request: Request[Any, Any, Any]) -> WorkflowService:
    """The app's workflow service: what the workflow API calls, and so what the console calls."""
    service: WorkflowService = request.app.state.workflow_service
    return service


def when(value: datetime.datetime | str | None) -> str:
    """A time as the console shows it (UTC, to the second); an ISO 8601 text (as the approvals API answers times)
    is read first, and shown as it is when it is none."""
    if isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            return value
        value = moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)
    return "" if value is None else value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(start: datetime.datetime | None, end: datetime.datetime | None) -> str:
    """A duration in words: ``850 ms``, ``12.3 s``, ``4 min 5 s``."""
    if start is None or end is None:
        return ""
    seconds = max((end - start).total_seconds(), 0.0)
    return milliseconds(int(seconds * 1000))


def milliseconds(value: int | None) -> str:
    """``duration_ms`` in words."""
    if value is None:
        return ""
    if value < 1000:
        return f"{value} ms"
    seconds = value / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def template(
    request: Request[Any, Any, Any],
    name: str,
    user: ConsoleUser | None,
    status_code: int = 200,
    **context: Any,
) -> Template:
    """The page ``name`` with what every page shows: the user, their workspaces, the CSRF token."""
    return Template(
        template_name=name,
        context={
            "user": user,
            "csrf_field": CSRF_FIELD,
            "prefix": PREFIX,
            "path": request.url.path,
            "when": when,
            "duration": duration,
            "milliseconds": milliseconds,
            **context,
        },
        status_code=status_code,
    )


async def page(
    request: Request[Any, Any, Any], name: str, user: ConsoleUser, status_code: int = 200, **context: Any
) -> Template:
    """:func:`template` plus the count of pending approvals every signed-in page shows."""
    pending = await pending_count(service_of(request), user)
    return template(request, name, user, status_code, pending_count=pending, **context)


def _error_page(request: Request[Any, Any, Any], status_code: int, title: str, message: str) -> Response[Any]:
    return template(request, "error.html", None, status_code=status_code, title=title, message=message)


def not_signed_in(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    """A page asked without a session goes to the sign-in page (back here after it); a form post is a 401."""
    if request.method in STATE_CHANGING:
        return _error_page(request, 401, "Signed out", "Your session has ended: sign in again.")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"{PREFIX}/sign-in?next={quote(target, safe='')}")


def csrf_refused(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    return _error_page(
        request, 403, "Refused", "This form was not sent from a console page of your session (CSRF check failed)."
    )


def not_found(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    return _error_page(request, 404, "Not found", str(error))


def conflict(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    return _error_page(request, 409, "Not possible now", str(error))


def forbidden(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    return _error_page(request, 403, "Not allowed", str(error))


def invalid(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    return _error_page(request, 422, "Invalid", str(error))


def identity_refused(request: Request[Any, Any, Any], error: IdentityError) -> Response[Any]:
    return _error_page(request, error.status_code, "Refused", error.message)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    NotSignedInError: not_signed_in,
    CsrfError: csrf_refused,
    IdentityError: identity_refused,
    ExecutionNotFoundError: not_found,
    UnknownWorkflowError: not_found,
    NotFoundError: not_found,
    ValidationError: invalid,
    ForbiddenError: forbidden,
    ExecutionError: conflict,
}
