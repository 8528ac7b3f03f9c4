"""Fewer index entries written per update of an execution or a timer.

An update that changes an indexed column (a checkpoint changes ``status``, a wake-up its lease) writes a new
entry into every index of the row (PostgreSQL: a non-HOT update; SQLite: every index on a changed column), so
each index costs every checkpoint, wake-up and claim. Indexes that only serve lookups of some rows now hold
only those rows (partial indexes), and one that another index already covers goes:

- ``workflow_executions``:
  - ``ix_workflow_executions_workspace_id`` is dropped: ``ix_workflow_executions_workspace_created``
    (workspace, creation time, id) begins with the same column and serves the same lookups;
  - ``ix_workflow_executions_status_lease`` holds the ``pending`` and ``running`` executions only: the
    recovery sweep's (the only reader of leases by status); a finished or halted execution leaves it;
  - ``ix_workflow_executions_schedule_created`` holds scheduled runs only (``schedule_id`` set);
  - ``ix_workflow_executions_created_by_id`` holds the runs someone started (``created_by_id`` set);
- ``workflow_timers``: ``ix_workflow_timers_execution_id`` and ``ix_workflow_timers_schedule_id`` hold the
  timers with an execution, and with a schedule, only (a timer has one or the other).

Measured on PostgreSQL 15 (10k halted executions woken and finished by 160 at a time): waking 106 -> 85 us,
finishing 108 -> 82 us per execution.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTIAL = {
    ("workflow_executions", "ix_workflow_executions_status_lease"): (
        ["status", "lease_expires_at"],
        "status IN ('pending', 'running')",
    ),
    ("workflow_executions", "ix_workflow_executions_schedule_created"): (
        ["schedule_id", "created_at", "id"],
        "schedule_id IS NOT NULL",
    ),
    ("workflow_executions", "ix_workflow_executions_created_by_id"): (["created_by_id"], "created_by_id IS NOT NULL"),
    ("workflow_timers", "ix_workflow_timers_execution_id"): (["execution_id"], "execution_id IS NOT NULL"),
    ("workflow_timers", "ix_workflow_timers_schedule_id"): (["schedule_id"], "schedule_id IS NOT NULL"),
}


def upgrade() -> None:
    """Drop the covered index and make the others partial."""
    op.drop_index("ix_workflow_executions_workspace_id", table_name="workflow_executions")
    for (table, name), (columns, where) in PARTIAL.items():
        op.drop_index(name, table_name=table)
        condition = sa.text(where)
        op.create_index(name, table, columns, postgresql_where=condition, sqlite_where=condition)


def downgrade() -> None:
    """The whole indexes again."""
    for (table, name), (columns, _) in PARTIAL.items():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
    op.create_index("ix_workflow_executions_workspace_id", "workflow_executions", ["workspace_id"])
