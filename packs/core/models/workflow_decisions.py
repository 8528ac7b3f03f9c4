"""Approval decisions: the ``workflow_decisions`` table (docs/workflow-language.md, step type ``approval``;
migration 0006).

The columns are the engine's :class:`packs.core.workflow.decisions.Decision` fields: the execution,
the step and the halt the decision answers, who decided (``user_id`` ``NULL``: an operator), approved
or not, the comment, the response and the time. A user decides once per halt (a unique constraint
on ``halt_id, user_id``); a decision goes with its execution (``ON DELETE CASCADE``).
"""

from __future__ import annotations

import datetime
from typing import Any
from uuid import UUID, uuid4

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from packs.core.models.workflow import JsonOrNull, WorkflowBase


class WorkflowDecision(WorkflowBase):
    """One decision on one approval halt (``workflow_decisions``)."""

    __tablename__ = "workflow_decisions"
    __table_args__ = (UniqueConstraint("halt_id", "user_id", name="uq_workflow_decisions_halt_user"),)

    id: Mapped[UUID] = mapped_column(GUID(length=16), primary_key=True, default=uuid4)
    execution_id: Mapped[UUID] = mapped_column(
        GUID(length=16), ForeignKey("workflow_executions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    step_id: Mapped[str] = mapped_column(String(), nullable=False)
    halt_id: Mapped[UUID] = mapped_column(GUID(length=16), nullable=False)
    user_id: Mapped[UUID | None] = mapped_column(GUID(length=16), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    approved: Mapped[bool] = mapped_column(Boolean(), nullable=False)
    comment: Mapped[str | None] = mapped_column(Text(), nullable=True)
    response: Mapped[Any] = mapped_column(JsonOrNull, nullable=True)
    decided_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), nullable=False)
