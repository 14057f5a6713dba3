"""inbox: whether an event's body has had its full schema check (a webhook receiver checks
only the fields the row is made of; the worker checks the rest before any handler)

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_events") as batch:
        batch.add_column(
            sa.Column("body_checked", sa.Boolean(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("inbox_events") as batch:
        batch.drop_column("body_checked")
