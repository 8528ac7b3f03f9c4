"""The execution a signal's sender addressed, when a sub-workflow child keeps it.

A signal sent to an execution halted at a ``workflow`` step whose child waits at a ``receive`` of that
name is kept for the child (``workflow_signals.execution_id`` is the child's). ``addressed_to`` keeps
the execution the sender named, so that a repeat of the send (its ``Idempotency-Key``) is found from
there, also once the child has ended, and the addressed execution lists the signal it passed on
(docs/http-api.md, Signals). ``NULL`` for a signal kept by the execution it was sent to.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_workflow_signals_addressed_to_created"
PASSED_ON = "addressed_to IS NOT NULL"


def upgrade() -> None:
    """Add ``addressed_to`` and its partial index (the signals that were passed on only)."""
    with op.batch_alter_table("workflow_signals") as batch:
        batch.add_column(sa.Column("addressed_to", GUID(length=16), nullable=True))
    condition = sa.text(PASSED_ON)
    op.create_index(
        INDEX, "workflow_signals", ["addressed_to", "created_at"], postgresql_where=condition, sqlite_where=condition
    )


def downgrade() -> None:
    """Drop the index and the column."""
    op.drop_index(INDEX, table_name="workflow_signals")
    with op.batch_alter_table("workflow_signals") as batch:
        batch.drop_column("addressed_to")
