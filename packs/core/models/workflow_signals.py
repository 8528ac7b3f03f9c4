"""Signals: the ``workflow_signals`` table (docs/workflow-language.md, step type ``receive``; migration 0008).

The columns are the engine's :class:`packs.core.workflow.signals.Signal` fields: an execution's
mailbox in arrival order, each signal read once by a ``receive`` step. A signal goes with its
execution (``ON DELETE CASCADE``); an idempotency key is unique per execution. ``addressed_to`` is the
execution the sender named when a sub-workflow child keeps the signal (migration 0014).
"""

from __future__ import annotations

import datetime
from typing import Any
from uuid import UUID, uuid4

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from packs.core.models.workflow import JsonOrNull, WorkflowBase

PASSED_ON = text("addressed_to IS NOT NULL")
"""The signals a sub-workflow child keeps for the execution the sender named (their partial index's rows)."""


class WorkflowSignal(WorkflowBase):
    """One message sent to an execution (``workflow_signals``)."""

    __tablename__ = "workflow_signals"

    id: Mapped[UUID] = mapped_column(GUID(length=16), primary_key=True, default=uuid4)
    execution_id: Mapped[UUID] = mapped_column(
        GUID(length=16), ForeignKey("workflow_executions.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(), nullable=False)
    payload: Mapped[Any] = mapped_column(JsonOrNull, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(), nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), nullable=False, default=lambda: datetime.datetime.now(datetime.UTC)
    )
    consumed_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    consumed_by: Mapped[str | None] = mapped_column(String(), nullable=True)
    addressed_to: Mapped[UUID | None] = mapped_column(GUID(length=16), nullable=True)
    """The execution the sender named, when its sub-workflow child keeps the signal (no foreign key: a child
    row may be purged apart from its parent); ``None`` for a signal kept by the execution it was sent to."""

    __table_args__ = (
        UniqueConstraint("execution_id", "idempotency_key", name="uq_workflow_signals_idempotency_key"),
        Index("ix_workflow_signals_execution_name_created", "execution_id", "name", "created_at"),
        Index(
            "ix_workflow_signals_addressed_to_created",
            "addressed_to",
            "created_at",
            postgresql_where=PASSED_ON,
            sqlite_where=PASSED_ON,
        ),
    )
