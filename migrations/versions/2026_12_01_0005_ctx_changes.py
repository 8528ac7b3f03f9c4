"""What a checkpoint writes: the changes of a context since it was last written whole (docs/workflow-language.md,
section 5, Checkpoints).

- ``workflow_ctx_changes``: per execution (``ON DELETE CASCADE``) and ``seq``, the top-level ``ctx`` keys
  one checkpoint set or removed (``changes``, JSON ``{"set": {...}, "del": [...]}``), and optionally the
  key (``entry_key``) whose value is the output of an entry (``entry_id``), written there only.
  A base row (``"base": true``) holds a whole context. ``workflow_executions.ctx`` (or the last base)
  plus the rows after it in ``seq`` order is the current context
  (docs/workflow-language.md, section 5, Checkpoints). No column of the existing tables changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, JsonB
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workflow_ctx_changes",
        sa.Column(
            "execution_id",
            GUID(length=16),
            sa.ForeignKey("workflow_executions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("changes", JsonB, nullable=False),
        sa.Column("entry_id", GUID(length=16), nullable=True),
        sa.Column("entry_key", sa.String(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("workflow_ctx_changes")
