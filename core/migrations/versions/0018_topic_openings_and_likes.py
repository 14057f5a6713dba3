"""topic openings and likes: what post webhooks deliver that scoring a practice candidate
needs, kept so the scoring reads no forum

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

from core.models import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("forum_topics") as batch:
        batch.add_column(sa.Column("opening", sa.Text(), nullable=True))
        batch.add_column(sa.Column("opening_at", UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "forum_likes",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("post_id", "username", name=op.f("pk_forum_likes")),
    )
    op.create_index(op.f("ix_forum_likes_topic_id"), "forum_likes", ["topic_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_forum_likes_topic_id"), table_name="forum_likes")
    op.drop_table("forum_likes")
    with op.batch_alter_table("forum_topics") as batch:
        batch.drop_column("opening_at")
        batch.drop_column("opening")
