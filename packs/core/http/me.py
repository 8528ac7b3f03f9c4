"""``GET /api/v1/me``: the caller and their workspaces, so that a client can pick ``X-Workspace-Id``
(docs/http-api.md, "Identity")."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.http import API_PREFIX
from packs.core.http.errors import ErrorBody, error_response
from packs.core.identity import IdentityError
from packs.core.identity.me import Me, who_am_i


class MeAnswer(msgspec.Struct):
    """``{"data": {"user": {...}, "workspaces": [...]}}``."""

    data: Me


def _identity_error(_: Request[Any, Any, Any], error: IdentityError) -> Response[Any]:
    return error_response(error.status_code, {"error": error.message})


class MeController(Controller):
    """``/api/v1/me``."""

    path = f"{API_PREFIX}/me"
    tags = ["identity"]
    security = [{"bearerAuth": []}]
    exception_handlers = {IdentityError: _identity_error}

    @get(
        "/",
        summary="The caller and their workspaces",
        description="Needs a bearer token but no workspace: `X-Workspace-Id` is not read here.",
        operation_id="me_show",
        responses={
            401: ResponseSpec(
                data_container=ErrorBody,
                description="Missing, malformed, unknown or revoked bearer token",
                generate_examples=False,
            )
        },
    )
    async def show(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> MeAnswer:
        """The authenticated user (id, email) and every workspace they belong to (id, name, role)."""
        try:
            return MeAnswer(data=await who_am_i(db_session, request.headers.get("authorization")))
        finally:
            await db_session.close()
