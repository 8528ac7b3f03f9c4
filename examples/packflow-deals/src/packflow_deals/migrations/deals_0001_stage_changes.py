"""deals pack: the deals_stage_changes table.

Revision ID: deals_0001
Revises:
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "deals_0001"
down_revision = None  # the first revision of the pack's own history
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deals_stage_changes",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column("deal_id", GUID(length=16), sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
        sa.Column("workspace_id", GUID(length=16), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("changed_by_id", GUID(length=16), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("from_stage", sa.String(20), nullable=False),
        sa.Column("to_stage", sa.String(20), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
    )
    op.create_index("ix_deals_stage_changes_deal_id", "deals_stage_changes", ["deal_id"])


def downgrade() -> None:
    op.drop_index("ix_deals_stage_changes_deal_id", table_name="deals_stage_changes")
    op.drop_table("deals_stage_changes")
