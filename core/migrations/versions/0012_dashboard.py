"""dashboard: server-side sessions, API tokens, refused incoming deliveries

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import core.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _utc() -> core.models.UTCDateTime:
    return core.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("username", sa.String(length=60), nullable=True),
        sa.Column("forum_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("last_seen_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("role_checked_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_dashboard_sessions")),
    )
    with op.batch_alter_table("dashboard_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dashboard_sessions_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index("ix_dashboard_sessions_forum_user", ["forum_user_id"], unique=False)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("last_used_at", _utc(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )

    op.create_table(
        "incoming_refusals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", _utc(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("event_name", sa.String(length=100), nullable=True),
        sa.Column("delivery_id", sa.String(length=100), nullable=True),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("body_size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incoming_refusals")),
    )


def downgrade() -> None:
    op.drop_table("incoming_refusals")
    op.drop_table("api_tokens")
    with op.batch_alter_table("dashboard_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_dashboard_sessions_forum_user")
        batch_op.drop_index(batch_op.f("ix_dashboard_sessions_expires_at"))
    op.drop_table("dashboard_sessions")
