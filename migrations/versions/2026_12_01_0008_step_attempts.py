"""Retry and catch on every step, and signals (docs/workflow-language.md, Retry and catch; Signals).

- ``workflow_entries.attempt``: which attempt of a step with retriers an entry records (``NULL`` for
  entries of steps without them).
- ``workflow_signals``: the mailbox of an execution, in arrival order: ``name``, a JSON ``payload``,
  the sender's ``idempotency_key`` (unique per execution, so a repeated send is a no-op),
  ``created_at`` (arrival), and ``consumed_at`` / ``consumed_by`` (the ``receive`` step that read it;
  ``NULL`` while unread). ``execution_id`` is ``ON DELETE CASCADE``; an index on
  ``(execution_id, name, created_at)`` finds the oldest unread signal of a name.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_VALUE = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("workflow_entries") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=True))
    op.create_table(
        "workflow_signals",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column(
            "execution_id",
            GUID(length=16),
            sa.ForeignKey("workflow_executions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("payload", JSON_VALUE, nullable=True),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("consumed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("consumed_by", sa.String(), nullable=True),
        sa.UniqueConstraint("execution_id", "idempotency_key", name="uq_workflow_signals_idempotency_key"),
    )
    op.create_index(
        "ix_workflow_signals_execution_name_created", "workflow_signals", ["execution_id", "name", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("workflow_signals")
    with op.batch_alter_table("workflow_entries") as batch:
        batch.drop_column("attempt")
