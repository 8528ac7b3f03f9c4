"""List contacts."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func, or_

from packs.contacts_service.tools.base import ContactTool
from packs.core.items import DEFAULT_PER_PAGE, PageNumber, PerPage, live_items, paginate
from packs.core.models import Item


class Index(ContactTool, method="get", scope="collection"):
    """List the workspace's contacts, newest first.

    `q` keeps contacts whose first name, last name or email contains it (case-insensitive);
    `page` (from 1 to 1,000,000) and `per_page` (default 25, at most 100) choose the page.
    """

    async def execute(
        self,
        *,
        user_id: UUID,
        workspace_id: UUID,
        q: str | None = None,
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
        **_: Any,
    ) -> dict[str, Any]:
        statement = live_items(workspace_id, "contact")
        if q and q.strip():
            needle = q.strip().lower()
            statement = statement.where(
                or_(
                    *(
                        func.lower(Item.data[field].as_string()).contains(needle, autoescape=True)
                        for field in ("first_name", "last_name", "email")
                    )
                )
            )
        result = await paginate(
            statement.order_by(Item.created_at.desc(), Item.id.desc()), page=page, per_page=per_page
        )
        return {"data": [self.serialize(item) for item in result.items], "meta": result.meta()}
