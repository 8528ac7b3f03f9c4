"""Queries on items that every item-backed tool needs: scoped lookup and pages."""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import msgspec
from sqlalchemy import ColumnElement, Select, String, func, literal, select, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from packs.core.db import current_session
from packs.core.models.item import Item
from packs.core.tools.errors import NotFoundError, ValidationError

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 25
MAX_PAGE = 1_000_000
"""The highest page a list answers (docs/http-api.md, Responses): beyond it is a 422, never an OFFSET
the database cannot hold."""
MAX_PER_PAGE_ASKED = 1_000_000
"""The highest ``per_page`` accepted (and clamped to :data:`MAX_PER_PAGE`); beyond it is a 422."""

PageNumber = Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE)]
"""A typed tool parameter for ``page``: an integer from 1 to 1,000,000."""
PerPage = Annotated[int, msgspec.Meta(ge=1, le=MAX_PER_PAGE_ASKED)]
"""A typed tool parameter for ``per_page``: an integer from 1 to 1,000,000 (clamped to 100 by :func:`paginate`)."""
MAX_CURSOR_LENGTH = 200
Cursor = Annotated[str, msgspec.Meta(max_length=MAX_CURSOR_LENGTH)]
"""A typed tool parameter for ``cursor`` (docs/http-api.md, Lists): empty for the first page, else the
``meta.cursor`` of the page before."""


def live_items(workspace_id: UUID, schema_slug: str) -> Select[tuple[Item]]:
    """Items of one schema in one workspace that are not deleted."""
    return select(Item).where(
        Item.workspace_id == workspace_id,
        Item.schema_slug == schema_slug,
        Item.deleted_at.is_(None),
    )


async def find_item(item_id: UUID, *, workspace_id: UUID, schema_slug: str, for_update: bool = False) -> Item:
    """The live item ``item_id`` of this workspace and schema; :class:`NotFoundError` otherwise.

    ``for_update``: the row is locked until the request's transaction ends (``SELECT ... FOR UPDATE`` on
    PostgreSQL; SQLite's writers take turns anyway), so a tool that changes or deletes it works on its latest
    version: concurrent PATCHes each keep their fields, and a request that waited for a delete finds no item
    (docs/writing-a-pack.md, "Changing and deleting records").
    """
    statement = live_items(workspace_id, schema_slug).where(Item.id == item_id)
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    item = (await current_session().execute(statement)).scalar_one_or_none()
    if item is None:
        raise NotFoundError(f"{schema_slug} {item_id} not found")
    return item


class JsonText(ColumnElement[str]):
    """The text of one top-level field of a JSON column, its key written into the SQL (not a parameter).

    ``data ->> 'email'`` on PostgreSQL, ``JSON_EXTRACT(data, '$."email"')`` elsewhere: with the key a
    literal, PostgreSQL matches the expression indexes the migrations create on it (``lower(data ->>
    'email')``, the trigram indexes of 0004).
    """

    inherit_cache = True
    type = String()
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement), ("field", InternalTraversal.dp_string)]

    def __init__(self, column: ColumnElement[Any] | QueryableAttribute[Any], field: str) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", field):
            raise ValueError(f"a JSON field name of letters, digits and underscores, got {field!r}")
        self.column: ColumnElement[Any] = (
            column.__clause_element__() if isinstance(column, QueryableAttribute) else column
        )
        self.field = field


@compiles(JsonText, "postgresql")
def _json_text_postgresql(element: JsonText, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.column, **kw)} ->> '{element.field}')"


@compiles(JsonText)
def _json_text(element: JsonText, compiler: SQLCompiler, **kw: Any) -> str:
    return f"JSON_EXTRACT({compiler.process(element.column, **kw)}, '$.\"{element.field}\"')"


SQLITE_LOWER = "packflow_lower"
"""The SQL function :class:`Lowered` calls on SQLite, whose own ``lower()`` changes ASCII letters only (``É``
stayed ``É``): the app registers :func:`unicode_lower` under this name on each SQLite connection."""


def unicode_lower(value: str | None) -> str | None:
    """Python's ``str.lower``, the SQLite function :data:`SQLITE_LOWER`."""
    return value.lower() if isinstance(value, str) else value


class Lowered(FunctionElement[str]):
    """``lower(text)`` that lowers every letter, as Python's ``str.lower`` does a search's needle: PostgreSQL's
    ``lower`` (which the trigram indexes of migration 0004 are built on), :data:`SQLITE_LOWER` on SQLite."""

    name = "lower"
    inherit_cache = True
    type = String()


@compiles(Lowered)
def _lowered(element: Lowered, compiler: SQLCompiler, **kw: Any) -> str:
    name = SQLITE_LOWER if compiler.dialect.name == "sqlite" else "lower"
    return f"{name}{compiler.process(element.clause_expr, **kw)}"


def encode_cursor(created_at: datetime.datetime, row_id: UUID | str) -> str:
    """The opaque cursor after a row: base64url (unpadded) of ``[created_at ISO 8601, id]``."""
    raw = msgspec.json.encode([created_at.astimezone(datetime.UTC).isoformat(), str(row_id)])
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


BAD_CURSOR = "is not a cursor this list gave: pass meta.cursor of the page before, or empty for the first page"


def decode_cursor(cursor: str, name: str = "cursor") -> tuple[datetime.datetime, UUID] | None:
    """The ``(created_at, id)`` a cursor points after; ``None`` for the empty cursor (the first page).

    Anything else than a cursor :func:`encode_cursor` made is a :class:`ValidationError` naming ``name``.
    """
    if not cursor:
        return None
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError(cursor)
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, row_id = msgspec.json.decode(raw, type=tuple[str, str])  # a wrong shape is a ValidationError
        moment = datetime.datetime.fromisoformat(created)
        if moment.tzinfo is None:
            raise ValueError(created)
        return moment.astimezone(datetime.UTC), UUID(row_id)  # a moment no UTC timestamp holds overflows
    except (ValueError, TypeError, OverflowError, binascii.Error, msgspec.DecodeError):
        raise ValidationError("Invalid parameters", {name: BAD_CURSOR}) from None


@dataclass(frozen=True)
class Page:
    """One page of a query's results and the figures a list answer's ``meta`` carries.

    A page by number has ``total``; a page by cursor (``keyset``) has ``cursor``, the next page's
    cursor (``None`` on the last page), and no total.
    """

    items: Sequence[Item]
    page: int
    per_page: int
    total: int | None
    cursor: str | None = None
    keyset: bool = False

    def meta(self) -> dict[str, Any]:
        """``{"page", "per_page", "total"}``; by cursor ``{"per_page", "cursor"}`` (docs/http-api.md, Lists)."""
        if self.keyset:
            return {"per_page": self.per_page, "cursor": self.cursor}
        return {"page": self.page, "per_page": self.per_page, "total": self.total}


async def paginate(statement: Select[tuple[Item]], *, page: int, per_page: int, cursor: str | None = None) -> Page:
    """Run ``statement`` (already ordered) for one page; ``per_page`` above 100 is clamped to 100.

    A ``page`` or ``per_page`` out of the bounds of :data:`PageNumber` / :data:`PerPage` is a
    :class:`ValidationError`, also for a tool that did not declare them with those types.

    With ``cursor`` (not ``None``; empty for the first page) the page is the next ``per_page`` rows
    after the cursor, newest first by ``(created_at, id)`` whatever the statement's order, found by
    keyset (no OFFSET) and without a count (docs/http-api.md, Lists). A cursor with a ``page`` other
    than 1, or not made by this function, is a :class:`ValidationError`.
    """
    details = {
        name: f"must be an integer from 1 to {bound}"
        for name, value, bound in (("page", page, MAX_PAGE), ("per_page", per_page, MAX_PER_PAGE_ASKED))
        if not 1 <= value <= bound
    }
    if cursor is not None and page != 1 and "page" not in details:
        details["page"] = "cannot be given with cursor: a cursor names the page itself"
    if details:
        raise ValidationError("Invalid parameters", details)
    per_page = min(per_page, MAX_PER_PAGE)
    session = current_session()
    if cursor is not None:
        return await _keyset_page(statement, per_page, decode_cursor(cursor))
    total = (await session.execute(select(func.count()).select_from(statement.order_by(None).subquery()))).scalar_one()
    rows = (await session.execute(statement.limit(per_page).offset((page - 1) * per_page))).scalars().all()
    return Page(items=rows, page=page, per_page=per_page, total=total)


async def _keyset_page(
    statement: Select[tuple[Item]], per_page: int, after: tuple[datetime.datetime, UUID] | None
) -> Page:
    """``per_page`` rows after ``after`` newest first, one more fetched to know whether a next page exists."""
    statement = statement.order_by(None).order_by(Item.created_at.desc(), Item.id.desc())
    if after is not None:
        created_at, row_id = after
        bound = tuple_(literal(created_at, Item.created_at.type), literal(row_id, Item.id.type))
        statement = statement.where(tuple_(Item.created_at, Item.id) < bound)
    rows = (await current_session().execute(statement.limit(per_page + 1))).scalars().all()
    shown = rows[:per_page]
    following = encode_cursor(shown[-1].created_at, shown[-1].id) if len(rows) > per_page else None
    return Page(items=shown, page=1, per_page=per_page, total=None, cursor=following, keyset=True)
