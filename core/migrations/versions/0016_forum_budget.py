"""forum budget: the requests every process spent in the last minute, the requests waiting,
and the shared pause after a 429

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forum_budget_spends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forum_budget_spends")),
    )
    op.create_index(op.f("ix_forum_budget_spends_at"), "forum_budget_spends", ["at"], unique=False)
    op.create_table(
        "forum_budget_waiters",
        sa.Column("waiter", sa.String(length=32), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("waiter", name=op.f("pk_forum_budget_waiters")),
    )
    state = op.create_table(
        "forum_budget_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("paused_until", sa.Float(), nullable=False),
        sa.Column("rate_limited", sa.Integer(), nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forum_budget_state")),
    )
    op.bulk_insert(state, [{"id": 1, "paused_until": 0.0, "rate_limited": 0, "turns": 0}])


def downgrade() -> None:
    op.drop_table("forum_budget_state")
    op.drop_table("forum_budget_waiters")
    op.drop_index(op.f("ix_forum_budget_spends_at"), table_name="forum_budget_spends")
    op.drop_table("forum_budget_spends")
