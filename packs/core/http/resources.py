"""The resources controller: every feature endpoint, one dispatch to the tool that answers it.

See docs/http-api.md, Routes.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Controller, Request, Response, route
from litestar.enums import HttpMethod
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.db import bind_session
from packs.core.features import registry as features
from packs.core.http import API_PREFIX
from packs.core.http.errors import error_response, tool_error_response
from packs.core.http.options import options_response
from packs.core.http.params import BadRequestBodyError, decode_body, merge_params
from packs.core.identity import IdentityError, authenticate
from packs.core.tools.errors import ValidationError
from packs.core.tools.routing import ACTION_PATTERN
from packs.core.workflow.stores.sql import take_write_lock

METHODS = [HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE, HttpMethod.OPTIONS]
UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
JSON = "application/json"


class ResourcesController(Controller):
    """``/api/v1/{namespace}/{feature}[/{id}][/{action}]`` for every registered feature.

    Every method is accepted on every path so that a method no tool answers is 404, not 405; ``OPTIONS``
    lists the methods that have a tool (docs/http-api.md, "Routes").
    """

    path = API_PREFIX
    include_in_schema = False

    @route("/{namespace:str}/{feature:str}", http_method=METHODS)
    async def collection(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, namespace: str, feature: str
    ) -> Response[Any]:
        """A collection request without action (index, create)."""
        return await dispatch(request, db_session, namespace, feature, None, None)

    @route("/{namespace:str}/{feature:str}/{segment:str}", http_method=METHODS)
    async def member_or_action(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        namespace: str,
        feature: str,
        segment: str,
    ) -> Response[Any]:
        """A member request (``segment`` is a UUID) or a collection action (``segment`` is ``[a-z_]+``)."""
        if UUID_PATTERN.fullmatch(segment):
            return await dispatch(request, db_session, namespace, feature, segment, None)
        if ACTION_PATTERN.fullmatch(segment):
            return await dispatch(request, db_session, namespace, feature, None, segment)
        return error_response(404, {"error": f"{segment!r} is neither an id (UUID) nor an action ([a-z_]+)"})

    @route("/{namespace:str}/{feature:str}/{item_id:str}/{action:str}", http_method=METHODS)
    async def member_action(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        namespace: str,
        feature: str,
        item_id: str,
        action: str,
    ) -> Response[Any]:
        """A member action: ``item_id`` is a UUID and ``action`` is ``[a-z_]+``."""
        if not UUID_PATTERN.fullmatch(item_id) or not ACTION_PATTERN.fullmatch(action):
            return error_response(404, {"error": "expected /{namespace}/{feature}/{id}/{action}"})
        return await dispatch(request, db_session, namespace, feature, item_id, action)


async def dispatch(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    namespace: str,
    feature_name: str,
    item_id: str | None,
    action: str | None,
) -> Response[Any]:
    """Authenticate, find the tool, call it inside the request's unit of work, commit only on success
    (``OPTIONS`` answers the path's methods without authentication)."""
    if request.method == HttpMethod.OPTIONS:
        return options_response(features, namespace, feature_name, item_id, action)
    try:
        identity = await authenticate(
            session, request.headers.get("authorization"), request.headers.get("x-workspace-id")
        )
    except IdentityError as error:
        return error_response(error.status_code, {"error": error.message})

    http_method = request.method.lower()
    feature = features.find(namespace, feature_name)
    if feature is None:
        return error_response(404, {"error": f"no feature {namespace}/{feature_name}"})
    scope = "member" if item_id is not None else "collection"
    tool = feature.find_tool(http_method, scope, action)
    if tool is None:
        what = f"{request.method} {scope}" + (f" action {action!r}" if action else "")
        return error_response(404, {"error": f"feature {feature.slug} has no tool for {what}"})

    try:
        body = decode_body(await request.body())
    except BadRequestBodyError as error:
        return error_response(400, {"error": str(error)})
    except ValidationError as error:
        return tool_error_response(error, request)
    params = merge_params(request.query_params.dict(), body)
    if item_id is not None:
        params["id"] = item_id
    if "http_method" in tool.parameters().parameters:
        params["http_method"] = http_method

    if http_method != "get" and session.get_bind().dialect.name == "sqlite":
        # A tool that changes data may read and then write: its transaction takes SQLite's write lock at BEGIN
        # (an upgrade fails at once while another connection writes), apart from the authentication's read.
        await session.commit()
        await take_write_lock(session)
    try:
        with bind_session(session):
            result = await tool.execute(user_id=identity.user_id, workspace_id=identity.workspace_id, **params)
        await session.commit()
    except Exception as error:
        await session.rollback()
        return tool_error_response(error, request)
    status = tool.route_spec.status if tool.route_spec else 200
    return Response(content=msgspec.json.encode(result), status_code=status, media_type=JSON)
