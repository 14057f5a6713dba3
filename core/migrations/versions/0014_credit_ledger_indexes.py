"""credit ledger indexes for the dashboard: scores by account and kind, ledger pages

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_ledger_score", ["platform", "account", "kind", "weight"], unique=False
        )
        batch_op.create_index(
            "ix_credit_ledger_timeline", ["platform", "account", "occurred_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_ledger_timeline")
        batch_op.drop_index("ix_credit_ledger_score")
