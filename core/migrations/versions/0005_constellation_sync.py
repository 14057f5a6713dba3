"""constellations: sync state and conflicts

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _utc() -> core.models.UTCDateTime:
    return core.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sync_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("wiki_title", sa.String(length=255), nullable=False),
        sa.Column("wiki_page_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("forum_post_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("resolved_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_issues")),
    )
    op.create_index(
        "ix_sync_issues_open", "sync_issues", ["kind", "wiki_title", "resolved_at"], unique=False
    )
    with op.batch_alter_table("page_topic_links") as batch:
        batch.add_column(sa.Column("rendered_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("category_name", sa.String(length=50), nullable=True))
        batch.add_column(sa.Column("charter_status", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("page_topic_links") as batch:
        batch.drop_column("charter_status")
        batch.drop_column("category_name")
        batch.drop_column("rendered_text")
    op.drop_index("ix_sync_issues_open", table_name="sync_issues")
    op.drop_table("sync_issues")
