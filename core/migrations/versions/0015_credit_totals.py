"""credit totals: the ledger summed per account and kind, filled from the ledger; the
ledger's score index, which only those sums read, goes

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BACKFILL = """
INSERT INTO credit_totals (account_id, kind, points, entries, cancelled)
SELECT a.id, l.kind, SUM(l.weight),
    SUM(CASE WHEN l.cancels_key IS NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN l.cancels_key IS NULL THEN 0 ELSE 1 END)
FROM credit_ledger l JOIN accounts a ON a.platform = l.platform AND a.username = l.account
GROUP BY a.id, l.kind
"""


def upgrade() -> None:
    op.create_table(
        "credit_totals",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_credit_totals_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "kind", name=op.f("pk_credit_totals")),
    )
    op.execute(BACKFILL)
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_ledger_score")


def downgrade() -> None:
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_ledger_score", ["platform", "account", "kind", "weight"], unique=False
        )
    op.drop_table("credit_totals")
