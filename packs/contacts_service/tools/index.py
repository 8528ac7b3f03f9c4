"""List contacts."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import or_

from packs.contacts_service.tools.base import ContactTool
from packs.core.items import (
    DEFAULT_PER_PAGE,
    Cursor,
    JsonText,
    Lowered,
    PageNumber,
    PerPage,
    live_items,
    paginate,
)
from packs.core.models import Item

SEARCHED_FIELDS = ("first_name", "last_name", "email")
"""What ``q`` searches; on PostgreSQL each ``lower(data ->> field)`` has a trigram index (migration 0004)."""


class Index(ContactTool, method="get", scope="collection"):
    """List the workspace's contacts, newest first.

    `q` keeps contacts whose first name, last name or email contains it (case-insensitive);
    `page` (from 1 to 1,000,000) and `per_page` (default 25, at most 100) choose the page, or
    `cursor` (empty for the first page, then the `meta.cursor` of the page before) pages by keyset.
    """

    async def execute(
        self,
        *,
        user_id: UUID,
        workspace_id: UUID,
        q: str | None = None,
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
        cursor: Cursor | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        statement = live_items(workspace_id, "contact")
        if q and q.strip():
            needle = q.strip().lower()
            statement = statement.where(
                or_(
                    *(
                        Lowered(JsonText(Item.data, field)).contains(needle, autoescape=True)
                        for field in SEARCHED_FIELDS
                    )
                )
            )
        result = await paginate(
            statement.order_by(Item.created_at.desc(), Item.id.desc()), page=page, per_page=per_page, cursor=cursor
        )
        return {"data": [self.serialize(item) for item in result.items], "meta": result.meta()}
