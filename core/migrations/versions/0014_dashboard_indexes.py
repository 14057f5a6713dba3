"""indexes for the dashboard's lists: credit scores and ledger pages, inbox and outgoing
messages by state, automation runs by time and rule

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


INDEXES = {
    "inbox_events": {"ix_inbox_events_state_id": ["state", "id"]},
    "outgoing_messages": {"ix_outgoing_messages_state_id": ["state", "id"]},
    "automation_runs": {
        "ix_automation_runs_time_id": ["started_at", "id"],
        "ix_automation_runs_rule_time_id": ["rule", "started_at", "id"],
    },
}


def upgrade() -> None:
    for table, indexes in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, columns in indexes.items():
                batch_op.create_index(name, columns, unique=False)
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_ledger_score", ["platform", "account", "kind", "weight"], unique=False
        )
        batch_op.create_index(
            "ix_credit_ledger_timeline", ["platform", "account", "occurred_at", "id"], unique=False
        )


def downgrade() -> None:
    for table, indexes in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in indexes:
                batch_op.drop_index(name)
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_ledger_timeline")
        batch_op.drop_index("ix_credit_ledger_score")
