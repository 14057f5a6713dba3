"""foundation: sync cursors, page-topic links, event inbox

Revision ID: 0001
Revises:
Create Date: 2026-11-21 04:47:57.318195
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import core.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("occurred_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivery_id", sa.String(length=128), nullable=True),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", core.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_events")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_inbox_events_dedupe_key")),
        sa.UniqueConstraint("event_id", name=op.f("uq_inbox_events_event_id")),
    )
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbox_events_kind"), ["kind"], unique=False)
        batch_op.create_index("ix_inbox_events_state_lease", ["state", "lease_until"], unique=False)

    op.create_table(
        "page_topic_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wiki_page_id", sa.Integer(), nullable=False),
        sa.Column("wiki_title", sa.String(length=255), nullable=False),
        sa.Column("external_id", sa.String(length=50), nullable=False),
        sa.Column("forum_category_id", sa.Integer(), nullable=True),
        sa.Column("forum_topic_id", sa.Integer(), nullable=True),
        sa.Column("forum_post_id", sa.Integer(), nullable=True),
        sa.Column("synced_hash", sa.String(length=64), nullable=True),
        sa.Column("synced_text", sa.Text(), nullable=True),
        sa.Column("archived_at", core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_page_topic_links")),
        sa.UniqueConstraint("external_id", name=op.f("uq_page_topic_links_external_id")),
        sa.UniqueConstraint("forum_topic_id", name=op.f("uq_page_topic_links_forum_topic_id")),
        sa.UniqueConstraint("wiki_page_id", name=op.f("uq_page_topic_links_wiki_page_id")),
    )
    op.create_table(
        "sync_cursors",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sync_cursors")),
    )


def downgrade() -> None:
    op.drop_table("sync_cursors")
    op.drop_table("page_topic_links")
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_events_state_lease")
        batch_op.drop_index(batch_op.f("ix_inbox_events_kind"))

    op.drop_table("inbox_events")
