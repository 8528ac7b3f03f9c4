"""A pack used by the tests: tools that echo, fail and refuse, to exercise the resources controller."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import msgspec
from litestar import get
from litestar.exceptions import ImproperlyConfiguredException
from sqlalchemy import text

from packs.core import hookimpl
from packs.core.db import current_session
from packs.core.features import Feature
from packs.core.items import live_items, paginate
from packs.core.models import Item
from packs.core.schemas import Schema
from packs.core.tools import ForbiddenError, NotFoundError, Tool, ValidationError


class Thing(Schema):
    """Something to probe with."""

    slug = "thing"
    title = "Thing"
    description = "A probe record."

    label: str


class Window(msgspec.Struct):
    start: datetime.date
    days: int


async def _write(user_id: UUID, workspace_id: UUID, label: str) -> Item:
    item = Item(
        schema_slug="thing",
        tool_slug="probe",
        data={"label": label},
        created_by_id=user_id,
        workspace_id=workspace_id,
    )
    current_session().add(item)
    await current_session().flush()
    return item


class Echo(Tool, method=("get", "post", "put", "patch", "delete"), scope="collection", action="echo", schema="thing"):
    """Answer with every parameter received."""

    def execute(self, **params: Any) -> dict[str, Any]:
        return {"params": {key: str(value) if isinstance(value, UUID) else value for key, value in params.items()}}


class MemberEcho(Tool, method=("get", "post", "put", "delete"), scope="member", action="echo"):
    """Answer with every parameter received, on a member."""

    def execute(self, **params: Any) -> dict[str, Any]:
        return {"params": {key: str(value) if isinstance(value, UUID) else value for key, value in params.items()}}


class WriteThenCrash(Tool, method="post", scope="collection", action="crash"):
    """Write an item, then raise an unexpected error: nothing may be committed."""

    async def execute(self, *, user_id: UUID, workspace_id: UUID, **_: Any) -> dict[str, Any]:
        await _write(user_id, workspace_id, "crash")
        raise RuntimeError("the probe broke on purpose")


class WriteThenReject(Tool, method="post", scope="collection", action="reject"):
    """Write an item, then raise ValidationError: nothing may be committed."""

    async def execute(self, *, user_id: UUID, workspace_id: UUID, **_: Any) -> dict[str, Any]:
        await _write(user_id, workspace_id, "reject")
        raise ValidationError("Probe rejected", {"label": "is wrong"})


class Write(Tool, method="post", scope="collection", status=201):
    """Write an item and succeed: it is committed."""

    async def execute(self, *, user_id: UUID, workspace_id: UUID, label: str = "ok", **_: Any) -> dict[str, Any]:
        item = await _write(user_id, workspace_id, label)
        return {"data": {"id": str(item.id)}, "meta": {}}


class Forbid(Tool, method="get", scope="collection", action="forbid"):
    """Always refuse."""

    def execute(self, **_: Any) -> dict[str, Any]:
        raise ForbiddenError("probes may not be looked at")


class Missing(Tool, method="get", scope="collection", action="missing"):
    """Always miss."""

    def execute(self, **_: Any) -> dict[str, Any]:
        raise NotFoundError("no probe here")


class Typed(Tool, method="post", scope="collection", action="typed"):
    """Declare typed parameters; writes an item when it runs."""

    async def execute(
        self,
        *,
        user_id: UUID,
        workspace_id: UUID,
        count: int,
        window: Window | None = None,
        flags: list[str] = [],  # noqa: B006
    ) -> dict[str, Any]:
        await _write(user_id, workspace_id, "typed")
        return {"count": count, "window": msgspec.to_builtins(window), "flags": flags}


class Unimplemented(Tool, method="get", scope="collection", action="unimplemented"):
    """Declares a route but no execute."""


LEAKED_SECRET = "s3cr3t-parameter-value"
"""A parameter of the failing SQL of :class:`SqlLeak`: no answer may show it."""


class SqlLeak(Tool, method="post", scope="collection", action="leak"):
    """Run SQL that fails: the database error quotes the statement and its parameters."""

    async def execute(self, **_: Any) -> dict[str, Any]:
        statement = text("SELECT secret_column FROM no_such_probe_table WHERE token = :token")
        await current_session().execute(statement, {"token": LEAKED_SECRET})
        return {}


class Paged(Tool, method="get", scope="collection", action="paged"):
    """Page through things with plain ``int`` parameters: only :func:`paginate` bounds them."""

    async def execute(self, *, workspace_id: UUID, page: int = 1, per_page: int = 25, **_: Any) -> dict[str, Any]:
        result = await paginate(live_items(workspace_id, "thing").order_by(Item.id), page=page, per_page=per_page)
        return {"data": [str(item.id) for item in result.items], "meta": result.meta()}


class Unencodable(Tool, method="get", scope="collection", action="unencodable"):
    """Succeed with something JSON cannot hold: the failure happens after the tool, outside its error mapping."""

    def execute(self, **_: Any) -> dict[str, Any]:
        return {"data": Window}


@get("/probe/explode", include_in_schema=False)
async def explode() -> None:
    """A route of the pack itself that fails with a message quoting SQL."""
    raise RuntimeError(f"SELECT * FROM users WHERE token = '{LEAKED_SECRET}'")


@get("/probe/misconfigured", include_in_schema=False)
async def misconfigured() -> None:
    """A route that raises Litestar's own 500 exception, whose detail quotes SQL."""
    raise ImproperlyConfiguredException(f"SELECT * FROM users WHERE token = '{LEAKED_SECRET}'")


@hookimpl
def register_routes() -> Sequence[Any]:
    return [explode, misconfigured]


@hookimpl
def register_schemas() -> Sequence[type[Schema]]:
    return [Thing]


@hookimpl
def register_features() -> Sequence[Feature]:
    return [
        Feature(
            namespace="probes",
            name="things",
            schema="thing",
            tools=[
                Echo,
                MemberEcho,
                WriteThenCrash,
                WriteThenReject,
                Write,
                Forbid,
                Missing,
                Typed,
                Unimplemented,
                SqlLeak,
                Paged,
                Unencodable,
            ],
        )
    ]
