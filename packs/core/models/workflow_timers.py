"""Durable timers: the ``workflow_timers`` table (docs/workflow-language.md, Waits and durable timers; migration 0007).

The columns are the engine's :class:`packs.core.workflow.timers.Timer` fields. Unfired timers are
found by due time through a partial index (``fired_at IS NULL``), fired ones by firing time through
another (``fired_at IS NOT NULL``, migration 0011: the purge of fired timers past their retention);
a timer of an execution goes with it (``ON DELETE CASCADE``).
"""

from __future__ import annotations

import datetime
from typing import Any
from uuid import UUID, uuid4

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from packs.core.models.workflow import EMPTY_JSON_OBJECT, JsonOrNull, WorkflowBase, rows_where

UNFIRED = text("fired_at IS NULL")
"""The rows the due-time index covers."""
FIRED = text("fired_at IS NOT NULL")
"""The rows the firing-time index covers (what the purge deletes, oldest first)."""


class WorkflowTimer(WorkflowBase):
    """One wake-up: fire the handler of ``kind`` at ``due_at``, once (``workflow_timers``)."""

    __tablename__ = "workflow_timers"

    id: Mapped[UUID] = mapped_column(GUID(length=16), primary_key=True, default=uuid4)
    kind: Mapped[str] = mapped_column(String(), nullable=False)
    due_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), nullable=False)
    execution_id: Mapped[UUID | None] = mapped_column(
        GUID(length=16), ForeignKey("workflow_executions.id", ondelete="CASCADE"), nullable=True
    )
    schedule_id: Mapped[UUID | None] = mapped_column(GUID(length=16), nullable=True)
    payload: Mapped[dict[str, Any] | None] = mapped_column(
        JsonOrNull, nullable=False, default=dict, server_default=EMPTY_JSON_OBJECT
    )
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), nullable=False, default=lambda: datetime.datetime.now(datetime.UTC)
    )
    fired_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)

    __table_args__ = (
        Index("ix_workflow_timers_unfired_due", "due_at", **rows_where(UNFIRED)),
        Index("ix_workflow_timers_fired_at", "fired_at", **rows_where(FIRED)),
        # A timer has an execution or a schedule: each index holds the timers that have its column (migration 0013).
        Index("ix_workflow_timers_execution_id", "execution_id", **rows_where(text("execution_id IS NOT NULL"))),
        Index("ix_workflow_timers_schedule_id", "schedule_id", **rows_where(text("schedule_id IS NOT NULL"))),
    )
