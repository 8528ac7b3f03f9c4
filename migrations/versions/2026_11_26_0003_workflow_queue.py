"""Queued execution: leases, ownership, definition versions (the tables of 0002 gain columns, none is dropped).

- ``workflow_executions`` gains ``workspace_id`` / ``created_by_id`` (who started it, indexed),
  ``definition_version`` / ``definition_hash`` (what it started with), ``attempts``, ``lease_owner``
  and ``lease_expires_at`` (one worker at a time, crash recovery).
- ``workflow_definitions`` keeps every definition an execution started with, by content hash.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def new_execution_columns() -> list[sa.Column[Any]]:
    """The columns 0003 adds to ``workflow_executions`` (fresh objects: a column joins one table only)."""
    return [
        sa.Column("workspace_id", GUID(length=16), nullable=True),
        sa.Column("created_by_id", GUID(length=16), nullable=True),
        sa.Column("definition_version", sa.String(), nullable=True),
        sa.Column("definition_hash", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(), nullable=True),
        sa.Column("lease_expires_at", DateTimeUTC(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("workflow_executions") as batch:
        for column in new_execution_columns():
            batch.add_column(column)
    op.create_index("ix_workflow_executions_workspace_id", "workflow_executions", ["workspace_id"])
    op.create_index("ix_workflow_executions_created_by_id", "workflow_executions", ["created_by_id"])
    op.create_index("ix_workflow_executions_status_lease", "workflow_executions", ["status", "lease_expires_at"])
    op.create_table(
        "workflow_definitions",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source", JsonB, nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.UniqueConstraint("workflow_id", "content_hash", name="uq_workflow_definitions_hash"),
    )


def downgrade() -> None:
    op.drop_table("workflow_definitions")
    op.drop_index("ix_workflow_executions_status_lease", table_name="workflow_executions")
    op.drop_index("ix_workflow_executions_created_by_id", table_name="workflow_executions")
    op.drop_index("ix_workflow_executions_workspace_id", table_name="workflow_executions")
    with op.batch_alter_table("workflow_executions") as batch:
        for column in reversed(new_execution_columns()):
            batch.drop_column(column.name)
