"""inbox: retry timing and dead letters

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("available_at", core.models.UTCDateTime(timezone=True), nullable=True)
        )
    # Rows already waiting become available at once.
    op.execute("UPDATE inbox_events SET available_at = received_at")
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.alter_column(
            "available_at", existing_type=core.models.UTCDateTime(timezone=True), nullable=False
        )
        batch_op.create_index(
            "ix_inbox_events_state_available", ["state", "available_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_events_state_available")
        batch_op.drop_column("available_at")
        batch_op.drop_column("reason")
