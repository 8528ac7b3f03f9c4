"""The operations console's sessions and the audit log.

- ``console_sessions``: a console sign-in, by the SHA-256 of its cookie key; it belongs to the API token
  that started it (deleted with it) and ends at ``expires_at``.
- ``audit_log``: every action that changed an execution or a schedule: who, what, when, from where
  (console, API, CLI), by workspace and time.
- ``workflow_executions``: an index by workspace, status, creation time and id, for the console's counts by
  status and the status-filtered list.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_OR_NULL = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("token_id", GUID(length=16), sa.ForeignKey("api_tokens.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", GUID(length=16), nullable=False),
        sa.Column("workspace_id", GUID(length=16), nullable=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("expires_at", DateTimeUTC(timezone=True), nullable=False),
        sa.UniqueConstraint("key_hash", name="uq_console_sessions_key_hash"),
    )
    op.create_index("ix_console_sessions_token_id", "console_sessions", ["token_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column("workspace_id", GUID(length=16), nullable=False),
        sa.Column("actor_id", GUID(length=16), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("details", JSON_OR_NULL, nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
    )
    op.create_index("ix_audit_log_workspace_created", "audit_log", ["workspace_id", "created_at", "id"])
    op.create_index("ix_audit_log_target", "audit_log", ["target_id"])
    op.create_index(
        "ix_workflow_executions_workspace_status",
        "workflow_executions",
        ["workspace_id", "status", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_workflow_executions_workspace_status", table_name="workflow_executions")
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    op.drop_index("ix_audit_log_workspace_created", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_console_sessions_token_id", table_name="console_sessions")
    op.drop_table("console_sessions")
