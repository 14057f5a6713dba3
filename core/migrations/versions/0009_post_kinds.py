"""forum activity: post type, hidden and private-message flags (health metrics leave
whispers, small actions, hidden posts and private messages out)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("forum_post_activity") as batch:
        batch.add_column(sa.Column("post_type", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("hidden", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("private", sa.Boolean(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("forum_post_activity") as batch:
        batch.drop_column("private")
        batch.drop_column("hidden")
        batch.drop_column("post_type")
