"""Durable timers: one table of every wake-up (docs/workflow-language.md, Waits and durable timers).

- ``workflow_timers``: ``kind`` (which handler fires it), ``due_at``, ``execution_id`` (optional,
  ``ON DELETE CASCADE``), ``schedule_id`` (optional), a JSON ``payload``, ``created_at`` and
  ``fired_at`` (``NULL`` until fired); a partial index on ``due_at`` of the unfired rows finds
  what is due, an index on ``execution_id`` an execution's timers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFIRED = sa.text("fired_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "workflow_timers",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("due_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column(
            "execution_id",
            GUID(length=16),
            sa.ForeignKey("workflow_executions.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("schedule_id", GUID(length=16), nullable=True),
        sa.Column("payload", JsonB, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("fired_at", DateTimeUTC(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_workflow_timers_unfired_due", "workflow_timers", ["due_at"], postgresql_where=UNFIRED, sqlite_where=UNFIRED
    )
    op.create_index("ix_workflow_timers_execution_id", "workflow_timers", ["execution_id"])
    op.create_index("ix_workflow_timers_schedule_id", "workflow_timers", ["schedule_id"])


def downgrade() -> None:
    op.drop_table("workflow_timers")
