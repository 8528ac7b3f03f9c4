"""broken pack: a migration that fails halfway (its table must not remain).

Revision ID: broken_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "broken_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("pack_broken", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute("SELECT * FROM no_such_table")


def downgrade() -> None:
    op.drop_table("pack_broken")
