"""``/console/sign-in``, ``/console/sign-out`` and ``/console/workspace``: start, end and steer a session.

The sign-in form is protected against CSRF by a double-submit token (a cookie and the same value in the
form), since there is no session yet; every form after it carries the session's own token.
"""

from __future__ import annotations

import datetime
import secrets
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.console.sessions import COOKIE, ConsoleUser, choose_workspace, csrf_matches, end_session, start_session
from packs.core.console.web import PREFIX, template
from packs.core.identity.authenticate import IdentityError

SIGNIN_CSRF_COOKIE = "packflow_console_signin"
FORM = Body(media_type=RequestEncodingType.URL_ENCODED)


def text_fields(data: dict[str, Any]) -> dict[str, str]:
    """The form's fields sent once, as text: a field sent twice (a list) reads as not sent, so the page answers
    as for a missing field instead of Litestar's JSON 400."""
    return {name: value for name, value in data.items() if isinstance(value, str)}


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if target and target.startswith(f"{PREFIX}/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{PREFIX}/executions"


def _secure(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"


def sign_in_page(request: Request[Any, Any, Any], next: str, error: str | None = None, status: int = 200) -> Template:
    """The sign-in form with a fresh double-submit CSRF token."""
    token = secrets.token_urlsafe(32)
    page = template(request, "sign_in.html", None, status, title="Sign in", next=next, error=error, signin_csrf=token)
    page.cookies.append(
        Cookie(
            key=SIGNIN_CSRF_COOKIE,
            value=token,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
            max_age=3600,
        )
    )
    return page


class SignInController(Controller):
    """Signing in and out, and choosing the workspace."""

    path = "/"
    include_in_schema = False

    @get("/sign-in")
    async def form(self, request: Request[Any, Any, Any], next: str | None = None) -> Template:
        """The sign-in page."""
        return sign_in_page(request, safe_next(next))

    @post("/sign-in", status_code=303)
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        data: Annotated[dict[str, Any], FORM],
    ) -> Response[Any]:
        """A valid token starts a session and goes on to ``next``; anything else shows the form again."""
        data = text_fields(data)
        target = safe_next(data.get("next"))
        if not csrf_matches(request.cookies.get(SIGNIN_CSRF_COOKIE, ""), data.get("csrf_token")) or not data.get(
            "csrf_token"
        ):
            return sign_in_page(request, target, "The form expired: sign in again.", 403)
        hours: float = request.app.state.settings.console_session_hours
        try:
            key, expires_at = await start_session(db_session, data.get("token", ""), hours)
        except IdentityError as error:
            return sign_in_page(request, target, error.message, error.status_code)
        finally:
            await db_session.close()
        redirect = Redirect(target, status_code=303)
        lifetime = int((expires_at - datetime.datetime.now(datetime.UTC)).total_seconds())
        redirect.cookies.append(
            Cookie(
                key=COOKIE,
                value=key,
                path=PREFIX,
                httponly=True,
                samesite="lax",
                secure=_secure(request),
                expires=lifetime,  # Litestar's ``expires`` is seconds from now, like ``max_age``
                max_age=lifetime,
            )
        )
        redirect.cookies.append(Cookie(key=SIGNIN_CSRF_COOKIE, value="", path=PREFIX, max_age=0))
        return redirect

    @post("/sign-out", status_code=303)
    async def sign_out(self, request: Request[Any, Any, Any], db_session: AsyncSession, user: ConsoleUser) -> Redirect:
        """End the session (``user`` checks the session and its CSRF token first)."""
        await end_session(db_session, request.cookies.get(COOKIE))
        redirect = Redirect(f"{PREFIX}/sign-in", status_code=303)
        redirect.cookies.append(Cookie(key=COOKIE, value="", path=PREFIX, max_age=0, httponly=True, samesite="lax"))
        return redirect

    @post("/workspace", status_code=303)
    async def switch(
        self,
        db_session: AsyncSession,
        user: ConsoleUser,
        data: Annotated[dict[str, Any], FORM],
    ) -> Redirect:
        """Act in another of the user's workspaces."""
        data = text_fields(data)
        try:
            workspace_id = UUID(data.get("workspace_id", ""))
        except ValueError:
            raise IdentityError(422, "Choose one of your workspaces.") from None
        await choose_workspace(db_session, user, workspace_id)
        await db_session.close()
        return Redirect(safe_next(data.get("next")), status_code=303)
