"""Show one contact."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from packs.contacts_service.tools.base import ContactTool
from packs.core.items import find_item


class Show(ContactTool, method="get", scope="member"):
    """Show one contact of the workspace."""

    async def execute(self, *, user_id: UUID, workspace_id: UUID, id: UUID, **_: Any) -> dict[str, Any]:
        item = await find_item(id, workspace_id=workspace_id, schema_slug="contact")
        return {"data": self.serialize(item), "meta": {}}
