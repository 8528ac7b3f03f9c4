"""Approvals with rules: decisions as records (docs/workflow-language.md, step type ``approval``).

- ``workflow_decisions``: one row per decision on an approval halt: ``execution_id``
  (``ON DELETE CASCADE``), ``step_id``, ``halt_id`` (the halt it answers), ``user_id`` and ``email``
  (``NULL`` user: an operator), ``approved``, ``comment``, ``response`` (JSON) and ``decided_at``; a
  unique constraint on ``(halt_id, user_id)`` (a user decides once per halt, and it finds a halt's
  decisions), an index on ``execution_id``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workflow_decisions",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column(
            "execution_id",
            GUID(length=16),
            sa.ForeignKey("workflow_executions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("step_id", sa.String(), nullable=False),
        sa.Column("halt_id", GUID(length=16), nullable=False),
        sa.Column("user_id", GUID(length=16), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("response", JsonB, nullable=True),
        sa.Column("decided_at", DateTimeUTC(timezone=True), nullable=False),
        sa.UniqueConstraint("halt_id", "user_id", name="uq_workflow_decisions_halt_user"),
    )
    op.create_index("ix_workflow_decisions_execution_id", "workflow_decisions", ["execution_id"])


def downgrade() -> None:
    op.drop_table("workflow_decisions")
