"""The pack's own table: every move of a deal from one stage to another (created by its migration)."""

from __future__ import annotations

from uuid import UUID

from advanced_alchemy.base import UUIDAuditBase
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column


class StageChange(UUIDAuditBase):
    """Deal ``deal_id`` moved from ``from_stage`` to ``to_stage``, by ``changed_by_id``."""

    __tablename__ = "deals_stage_changes"

    deal_id: Mapped[UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    changed_by_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    from_stage: Mapped[str] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))

    def as_history(self) -> dict[str, str]:
        """The change as the API renders it."""
        return {
            "from": self.from_stage,
            "to": self.to_stage,
            "changed_by_id": str(self.changed_by_id),
            "changed_at": self.created_at.isoformat(),
        }
