"""Workflow tables: executions and their entries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _empty_json_object() -> sa.TextClause:
    """An empty JSON object as a column default: ``'{}'::jsonb`` on PostgreSQL, a JSON text elsewhere."""
    if op.get_context().dialect.name == "postgresql":
        return sa.text("'{}'::jsonb")
    return sa.text("'{}'")


def upgrade() -> None:
    op.create_table(
        "workflow_executions",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False, server_default="running"),
        sa.Column("input", JsonB, nullable=True, server_default=_empty_json_object()),
        sa.Column("ctx", JsonB, nullable=True, server_default=_empty_json_object()),
        sa.Column("current_step", sa.String(), nullable=True),
        sa.Column("result", JsonB, nullable=True),
        sa.Column("recover_to", sa.String(), nullable=True),
        sa.Column("halt_data", JsonB, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
    )
    op.create_index("ix_workflow_executions_workflow_id", "workflow_executions", ["workflow_id"])
    op.create_index("ix_workflow_executions_status", "workflow_executions", ["status"])
    op.create_index("ix_workflow_executions_created_at", "workflow_executions", ["created_at"])
    op.create_table(
        "workflow_entries",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column("execution_id", GUID(length=16), nullable=False),
        sa.Column("step_id", sa.String(), nullable=False),
        sa.Column("step_type", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("input", JsonB, nullable=True),
        sa.Column("output", JsonB, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("timestamp", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["workflow_executions.id"],
            name="fk_workflow_entries_execution_id_workflow_executions",
        ),
    )
    op.create_index("ix_workflow_entries_execution_id", "workflow_entries", ["execution_id"])
    op.create_index("ix_workflow_entries_step_id", "workflow_entries", ["step_id"])
    op.create_index("ix_workflow_entries_timestamp", "workflow_entries", ["timestamp"])


def downgrade() -> None:
    op.drop_table("workflow_entries")
    op.drop_table("workflow_executions")
