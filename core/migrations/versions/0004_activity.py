"""activity: forum and wiki activity kept by handlers

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _utc() -> core.models.UTCDateTime:
    return core.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "forum_post_activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("post_number", sa.Integer(), nullable=False),
        sa.Column("reply_to_post_number", sa.Integer(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forum_post_activity")),
        sa.UniqueConstraint("post_id", name=op.f("uq_forum_post_activity_post_id")),
    )
    op.create_index(
        op.f("ix_forum_post_activity_topic_id"), "forum_post_activity", ["topic_id"], unique=False
    )
    op.create_table(
        "wiki_change_activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_key", sa.String(length=64), nullable=False),
        sa.Column("rcid", sa.Integer(), nullable=True),
        sa.Column("revid", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("user", sa.String(length=255), nullable=True),
        sa.Column("timestamp", _utc(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wiki_change_activity")),
        sa.UniqueConstraint("change_key", name=op.f("uq_wiki_change_activity_change_key")),
    )


def downgrade() -> None:
    op.drop_table("wiki_change_activity")
    op.drop_index(op.f("ix_forum_post_activity_topic_id"), table_name="forum_post_activity")
    op.drop_table("forum_post_activity")
