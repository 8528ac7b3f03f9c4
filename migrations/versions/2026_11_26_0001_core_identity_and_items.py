"""Core tables: users, workspaces, memberships, API tokens and items.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _audit_columns() -> list[sa.Column[Any]]:
    """The columns of advanced-alchemy's UUID audit base, after the table's own."""
    return [
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        *_audit_columns(),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "workspaces",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        *_audit_columns(),
    )
    op.create_index("ix_workspaces_name", "workspaces", ["name"])
    op.create_table(
        "memberships",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column(
            "user_id",
            GUID(length=16),
            sa.ForeignKey("users.id", name="fk_memberships_user_id_users", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "workspace_id",
            GUID(length=16),
            sa.ForeignKey("workspaces.id", name="fk_memberships_workspace_id_workspaces", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(length=32), nullable=False),
        *_audit_columns(),
        sa.UniqueConstraint("user_id", "workspace_id", name="uq_memberships_user_workspace"),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_index("ix_memberships_workspace_id", "memberships", ["workspace_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column(
            "user_id",
            GUID(length=16),
            sa.ForeignKey("users.id", name="fk_api_tokens_user_id_users", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("revoked_at", DateTimeUTC(timezone=True), nullable=True),
        *_audit_columns(),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "items",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column("schema_slug", sa.String(length=100), nullable=False),
        sa.Column("tool_slug", sa.String(length=100), nullable=False),
        sa.Column("data", JsonB, nullable=False),
        sa.Column(
            "created_by_id",
            GUID(length=16),
            sa.ForeignKey("users.id", name="fk_items_created_by_id_users"),
            nullable=False,
        ),
        sa.Column(
            "workspace_id",
            GUID(length=16),
            sa.ForeignKey("workspaces.id", name="fk_items_workspace_id_workspaces", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("deleted_at", DateTimeUTC(timezone=True), nullable=True),
        *_audit_columns(),
    )
    op.create_index("ix_items_created_by_id", "items", ["created_by_id"])
    op.create_index("ix_items_workspace_schema_created", "items", ["workspace_id", "schema_slug", "created_at"])


def downgrade() -> None:
    op.drop_table("items")
    op.drop_table("api_tokens")
    op.drop_table("memberships")
    op.drop_table("workspaces")
    op.drop_table("users")
