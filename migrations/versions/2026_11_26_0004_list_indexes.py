"""Indexes for lists that stay fast (docs/http-api.md, Lists): no table changes.

- ``items``: live items (``deleted_at IS NULL``) by workspace, schema, creation time and id, the order
  and keyset of every list (``packs.core.items.paginate``); partial on PostgreSQL and SQLite.
- ``workflow_executions``: by workspace, creation time and id, the order and keyset of
  ``GET /api/v1/workflows/executions``.
- PostgreSQL only, when the server has the ``pg_trgm`` extension: a trigram GIN index on each field the
  contacts search (``q``) matches, ``lower(data ->> 'first_name')`` etc. of live items, so that
  ``LIKE '%q%'`` is an index scan. Elsewhere the search scans the workspace's contacts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("deleted_at IS NULL")
SEARCHED_FIELDS = ("first_name", "last_name", "email")
"""The fields of ``packs.contacts_service.tools.index.SEARCHED_FIELDS``."""


def trigram_index(field: str) -> str:
    """The name of the trigram index on ``lower(data ->> field)``."""
    return f"ix_items_trgm_{field}"


def upgrade() -> None:
    op.create_index(
        "ix_items_live_workspace_schema_created",
        "items",
        ["workspace_id", "schema_slug", "created_at", "id"],
        postgresql_where=LIVE,
        sqlite_where=LIVE,
    )
    op.create_index(
        "ix_workflow_executions_workspace_created", "workflow_executions", ["workspace_id", "created_at", "id"]
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first()
    if available is None:
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for field in SEARCHED_FIELDS:
        op.execute(
            f"CREATE INDEX {trigram_index(field)} ON items "
            f"USING gin (lower(data ->> '{field}') gin_trgm_ops) WHERE deleted_at IS NULL"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for field in SEARCHED_FIELDS:
            op.execute(f"DROP INDEX IF EXISTS {trigram_index(field)}")
    op.drop_index("ix_workflow_executions_workspace_created", table_name="workflow_executions")
    op.drop_index("ix_items_live_workspace_schema_created", table_name="items")
