"""Create a contact: POST on the contacts collection (docs/http-api.md, Contacts)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from packs.contacts_service.tools.base import NOT_SENT, ContactTool
from packs.core.db import current_session
from packs.core.models import Item


class Create(ContactTool, method="post", scope="collection", status=201):
    """Create a contact from `{"contact": {...}}`."""

    async def execute(self, *, user_id: UUID, workspace_id: UUID, contact: Any = NOT_SENT, **_: Any) -> dict[str, Any]:
        fields = self.validated_contact(contact)
        item = Item(
            schema_slug="contact",
            tool_slug=self.slug,
            data=self.normalized(fields),
            created_by_id=user_id,
            workspace_id=workspace_id,
        )
        session = current_session()
        session.add(item)
        await session.flush()
        return {"data": self.serialize(item), "meta": {"created": True}}
