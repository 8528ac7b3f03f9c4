"""Queries on items that every item-backed tool needs: scoped lookup and pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import msgspec
from sqlalchemy import Select, func, select

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


def live_items(workspace_id: UUID, schema_slug: str) -> Select[tuple[Item]]:
    """Items of one schema in one workspace that are not deleted."""
    return select(Item).where(
        Item.workspace_id == workspace_id,
        Item.schema_slug == schema_slug,
        Item.deleted_at.is_(None),
    )


async def find_item(item_id: UUID, *, workspace_id: UUID, schema_slug: str) -> Item:
    """The live item ``item_id`` of this workspace and schema; :class:`NotFoundError` otherwise."""
    statement = live_items(workspace_id, schema_slug).where(Item.id == item_id)
    item = (await current_session().execute(statement)).scalar_one_or_none()
    if item is None:
        raise NotFoundError(f"{schema_slug} {item_id} not found")
    return item


@dataclass(frozen=True)
class Page:
    """One page of a query's results and the figures a list answer's ``meta`` carries."""

    items: Sequence[Item]
    page: int
    per_page: int
    total: int

    def meta(self) -> dict[str, Any]:
        """``{"page", "per_page", "total"}``."""
        return {"page": self.page, "per_page": self.per_page, "total": self.total}


async def paginate(statement: Select[tuple[Item]], *, page: int, per_page: int) -> Page:
    """Run ``statement`` (already ordered) for one page; ``per_page`` above 100 is clamped to 100.

    A ``page`` or ``per_page`` out of the bounds of :data:`PageNumber` / :data:`PerPage` is a
    :class:`ValidationError`, also for a tool that did not declare them with those types.
    """
    details = {
        name: f"must be an integer from 1 to {bound}"
        for name, value, bound in (("page", page, MAX_PAGE), ("per_page", per_page, MAX_PER_PAGE_ASKED))
        if not 1 <= value <= bound
    }
    if details:
        raise ValidationError("Invalid parameters", details)
    per_page = min(per_page, MAX_PER_PAGE)
    session = current_session()
    total = (await session.execute(select(func.count()).select_from(statement.order_by(None).subquery()))).scalar_one()
    rows = (await session.execute(statement.limit(per_page).offset((page - 1) * per_page))).scalars().all()
    return Page(items=rows, page=page, per_page=per_page, total=total)
