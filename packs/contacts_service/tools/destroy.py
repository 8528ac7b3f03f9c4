"""Delete a contact (soft delete)."""

from __future__ import annotations

import datetime
from typing import Any
from uuid import UUID

from packs.contacts_service.tools.base import ContactTool
from packs.core.db import current_session
from packs.core.items import find_item


class Destroy(ContactTool, method="delete", scope="member"):
    """Delete a contact: it is kept with `deleted_at` set and is 404 everywhere afterwards."""

    async def execute(self, *, user_id: UUID, workspace_id: UUID, id: UUID, **_: Any) -> dict[str, Any]:
        item = await find_item(id, workspace_id=workspace_id, schema_slug="contact", for_update=True)
        item.deleted_at = datetime.datetime.now(datetime.UTC)
        await current_session().flush()
        return {"data": self.serialize(item), "meta": {"deleted": True}}
