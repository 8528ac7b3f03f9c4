"""Items: the records tools create, one row per record of any schema."""

from __future__ import annotations

import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.base import UUIDAuditBase
from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column


class Item(UUIDAuditBase):
    """A record of schema ``schema_slug`` in a workspace; ``data`` holds its fields (``jsonb`` on PostgreSQL)."""

    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_workspace_schema_created", "workspace_id", "schema_slug", "created_at"),
        # The order and keyset of every list of live items (migration 0004; docs/http-api.md, Lists).
        Index(
            "ix_items_live_workspace_schema_created",
            "workspace_id",
            "schema_slug",
            "created_at",
            "id",
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
    )

    schema_slug: Mapped[str] = mapped_column(String(100))
    tool_slug: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    created_by_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), index=True)
    workspace_id: Mapped[UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
