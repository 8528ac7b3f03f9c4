"""The item serializer: an item as the API renders it."""

from __future__ import annotations

from typing import Any

from packs.core.models.item import Item


class ItemSerializer:
    """Renders an :class:`Item` as ``{"id", "schema_slug", "tool_slug", "data", ...}``."""

    def __init__(self, item: Item) -> None:
        self.item = item

    def to_dict(self) -> dict[str, Any]:
        """The item's fields; ids as strings, timestamps ISO 8601 with a UTC offset."""
        item = self.item
        return {
            "id": str(item.id),
            "schema_slug": item.schema_slug,
            "tool_slug": item.tool_slug,
            "data": item.data,
            "workspace_id": str(item.workspace_id),
            "created_by_id": str(item.created_by_id),
            "created_at": item.created_at.isoformat(),
            "updated_at": item.updated_at.isoformat(),
            "deleted_at": item.deleted_at.isoformat() if item.deleted_at else None,
        }

    to_h = to_dict
