"""Update a contact: PUT replaces it, PATCH changes the fields sent."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from packs.contacts_service.tools.base import NOT_SENT, ContactTool
from packs.core.db import current_session
from packs.core.items import find_item


class Update(ContactTool, method=("put", "patch"), scope="member"):
    """Update a contact from `{"contact": {...}}`.

    PUT replaces the contact (required fields required, omitted optional fields cleared);
    PATCH changes only the fields sent. The item's ``tool_slug`` keeps naming the tool that created it
    (docs/http-api.md, "Responses").
    """

    async def execute(
        self,
        *,
        user_id: UUID,
        workspace_id: UUID,
        id: UUID,
        contact: Any = NOT_SENT,
        http_method: str = "put",
        **_: Any,
    ) -> dict[str, Any]:
        item = await find_item(id, workspace_id=workspace_id, schema_slug="contact", for_update=True)
        partial = http_method == "patch"
        fields = self.validated_contact(contact, partial=partial)
        item.data = self.normalized({**item.data, **fields} if partial else fields)  # tool_slug stays "create"
        await current_session().flush()
        return {"data": self.serialize(item), "meta": {"updated": True}}
