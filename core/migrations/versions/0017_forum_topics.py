"""forum topics: each topic's title and slug as webhooks and polls reported them

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

from core.models import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forum_topics",
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("slug", sa.String(length=255), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("topic_id", name=op.f("pk_forum_topics")),
    )


def downgrade() -> None:
    op.drop_table("forum_topics")
