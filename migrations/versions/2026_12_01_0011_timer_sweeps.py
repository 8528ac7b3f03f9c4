"""Fired timers by firing time: a partial index for the purge of fired ``workflow_timers`` rows.

Fired rows are kept ``PACKFLOW_TIMER_RETENTION_SECONDS`` for inspection, then the timer sweeps delete
them oldest first (docs/workflow-language.md, Waits and durable timers); the index covers only fired
rows, so the due-time sweep's index and the purge's do not grow with each other's rows.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIRED = sa.text("fired_at IS NOT NULL")


def upgrade() -> None:
    """Index the fired timers by firing time."""
    op.create_index(
        "ix_workflow_timers_fired_at", "workflow_timers", ["fired_at"], postgresql_where=FIRED, sqlite_where=FIRED
    )


def downgrade() -> None:
    """Drop the index of fired timers."""
    op.drop_index("ix_workflow_timers_fired_at", table_name="workflow_timers")
