"""Workspace schedules (docs/http-api.md, Schedules): the ``workflow_schedules`` table, and the schedule a run
came from on ``workflow_executions``.

- ``workflow_schedules``: a workspace's schedule of a workflow (cron or ``every`` seconds, timezone, input,
  overlap and catch-up policies, jitter, paused) and where it is on its calendar (the last tick handled,
  the next one waited for, a tick buffered behind an unfinished run); listed by workspace, creation time
  and id.
- ``workflow_executions.schedule_id``: set once on a scheduled run; indexed with the list's order and
  keyset for ``GET /api/v1/workflows/executions?schedule_id=``. No foreign key: a deleted schedule's runs
  keep the id they came from.

Signals (a mailbox per execution) have their tables elsewhere (revision 0008).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_VALUE = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "workflow_schedules",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column("workspace_id", GUID(length=16), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("created_by_id", GUID(length=16), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("cron", sa.String(), nullable=True),
        sa.Column("every_seconds", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.String(), nullable=False, server_default="UTC"),
        sa.Column("input", JSON_VALUE, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("overlap", sa.String(), nullable=False, server_default="skip"),
        sa.Column("catch_up", sa.String(), nullable=False, server_default="latest"),
        sa.Column("catch_up_window", sa.Integer(), nullable=False, server_default="86400"),
        sa.Column("jitter", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("last_tick_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("next_tick_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("buffered_tick_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_workflow_schedules_workspace_created", "workflow_schedules", ["workspace_id", "created_at", "id"]
    )
    op.create_index("ix_workflow_schedules_next_tick_at", "workflow_schedules", ["next_tick_at"])
    with op.batch_alter_table("workflow_executions") as batch:
        batch.add_column(sa.Column("schedule_id", GUID(length=16), nullable=True))
    op.create_index(
        "ix_workflow_executions_schedule_created", "workflow_executions", ["schedule_id", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_workflow_executions_schedule_created", table_name="workflow_executions")
    with op.batch_alter_table("workflow_executions") as batch:
        batch.drop_column("schedule_id")
    op.drop_index("ix_workflow_schedules_next_tick_at", table_name="workflow_schedules")
    op.drop_index("ix_workflow_schedules_workspace_created", table_name="workflow_schedules")
    op.drop_table("workflow_schedules")
