"""The operations console's sign-in sessions and the audit log of what changed executions and schedules.

A console session (``console_sessions``) is started by an API token: its cookie holds a random key whose
SHA-256 is the only thing stored, like a token's. It ends at ``expires_at``, on ``Sign out``, and with its
token (revoked or deleted). The audit log (``audit_log``) records who did what to which execution or
schedule, when and from where (README, "The operations console").
"""

from __future__ import annotations

import datetime
from typing import Any
from uuid import UUID, uuid4

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from packs.core.models.workflow import JsonOrNull, WorkflowBase


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class ConsoleSession(WorkflowBase):
    """A signed-in console session (``console_sessions``)."""

    __tablename__ = "console_sessions"

    id: Mapped[UUID] = mapped_column(GUID(length=16), primary_key=True, default=uuid4)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    token_id: Mapped[UUID] = mapped_column(
        GUID(length=16), ForeignKey("api_tokens.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[UUID] = mapped_column(GUID(length=16), nullable=False)
    workspace_id: Mapped[UUID | None] = mapped_column(GUID(length=16), nullable=True)
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), nullable=False, default=_now)
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), nullable=False)


class AuditEntry(WorkflowBase):
    """One action that changed an execution or a schedule (``audit_log``)."""

    __tablename__ = "audit_log"

    id: Mapped[UUID] = mapped_column(GUID(length=16), primary_key=True, default=uuid4)
    workspace_id: Mapped[UUID] = mapped_column(GUID(length=16), nullable=False)
    actor_id: Mapped[UUID | None] = mapped_column(GUID(length=16), nullable=True)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target_type: Mapped[str] = mapped_column(String(32), nullable=False)
    target_id: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    details: Mapped[dict[str, Any] | None] = mapped_column(JsonOrNull, nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), nullable=False, default=_now)

    __table_args__ = (
        Index("ix_audit_log_workspace_created", "workspace_id", "created_at", "id"),
        Index("ix_audit_log_target", "target_id"),
    )
