"""notes pack: the pack_notes table (it refers to a core table).

Revision ID: notes_0001
Revises:
"""

import sqlalchemy as sa
from advanced_alchemy.types import GUID
from alembic import op

revision = "notes_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pack_notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", GUID(length=16), sa.ForeignKey("workspaces.id"), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pack_notes")
