"""health snapshots and alerts; the charter kept on each page link; indexes for
the health metrics' reads of forum activity

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import core.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _utc() -> core.models.UTCDateTime:
    return core.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "health_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("lead_group", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raised_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("resolved_at", _utc(), nullable=True),
        sa.Column("forum_topic_id", sa.Integer(), nullable=True),
        sa.Column("group_message_topic_id", sa.Integer(), nullable=True),
        sa.Column("resolution_posted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_alerts")),
    )
    with op.batch_alter_table("health_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_health_alerts_scope"), ["scope"], unique=False)
        batch_op.create_index(
            "uq_health_alerts_open",
            ["rule", "scope"],
            unique=True,
            sqlite_where=sa.text("state = 'open'"),
            postgresql_where=sa.text("state = 'open'"),
        )

    op.create_table(
        "organisations",
        sa.Column("group_name", sa.String(length=255), nullable=False),
        sa.Column("full_name", sa.String(length=255), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("group_name", name=op.f("pk_organisations")),
    )
    op.create_table(
        "forum_first_posts",
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("first_post_id", sa.Integer(), nullable=False),
        sa.Column("first_at", _utc(), nullable=False),
        sa.Column("second_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_forum_first_posts")),
    )
    op.create_table(
        "health_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("computed_at", _utc(), nullable=False),
        sa.Column(
            "values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_snapshots")),
        sa.UniqueConstraint("scope", "window_days", "day", name=op.f("uq_health_snapshots_scope")),
    )
    with op.batch_alter_table("forum_post_activity", schema=None) as batch_op:
        batch_op.create_index(
            "ix_forum_post_activity_category_time", ["category_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_forum_post_activity_username_time", ["username", "created_at"], unique=False
        )

    with op.batch_alter_table("page_topic_links", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "charter",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("page_topic_links", schema=None) as batch_op:
        batch_op.drop_column("charter")

    with op.batch_alter_table("forum_post_activity", schema=None) as batch_op:
        batch_op.drop_index("ix_forum_post_activity_username_time")
        batch_op.drop_index("ix_forum_post_activity_category_time")

    op.drop_table("health_snapshots")
    op.drop_table("forum_first_posts")
    op.drop_table("organisations")
    with op.batch_alter_table("health_alerts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_health_alerts_open",
            sqlite_where=sa.text("state = 'open'"),
            postgresql_where=sa.text("state = 'open'"),
        )
        batch_op.drop_index(batch_op.f("ix_health_alerts_scope"))

    op.drop_table("health_alerts")
