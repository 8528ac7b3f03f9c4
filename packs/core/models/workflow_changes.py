"""The context's change log: the ``workflow_ctx_changes`` table (docs/workflow-language.md, section 5,
Checkpoints; migration 0005).

One row per checkpoint that wrote only the top-level ``ctx`` keys a step set or removed: ``changes`` is
``{"set": {key: value}, "del": [key]}``; ``entry_key`` / ``entry_id`` name a key whose (large) value is
the output of that entry, written there only; a base row (``"base": true``) holds the whole context
and the rows before it are deleted. ``workflow_executions.ctx`` (or the last base) plus the rows after
it in ``seq`` order is the current context; a whole write of ``ctx`` deletes the rows. The rows of an execution go
with it (``ON DELETE CASCADE``, and the store deletes them).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from advanced_alchemy.types import GUID
from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from packs.core.models.workflow import JsonOrNull, WorkflowBase


class WorkflowCtxChange(WorkflowBase):
    """The top-level context keys one checkpoint set or removed (``workflow_ctx_changes``)."""

    __tablename__ = "workflow_ctx_changes"

    execution_id: Mapped[UUID] = mapped_column(
        GUID(length=16), ForeignKey("workflow_executions.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    changes: Mapped[dict[str, Any]] = mapped_column(JsonOrNull, nullable=False)
    entry_id: Mapped[UUID | None] = mapped_column(GUID(length=16), nullable=True)
    entry_key: Mapped[str | None] = mapped_column(String(), nullable=True)
