"""dated credit rules: each ledger row names the rules version that weighed it and what
it counted; moderators' rescores of a period are recorded

Rows written before keep no version (shown as such); a rescore gives them one.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from core.models import UTCDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def _json() -> sa.JSON:  # JSONB on PostgreSQL, as core.models.Payload
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("credit_ledger") as batch:
        batch.add_column(sa.Column("rules_version", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("units", sa.Float(), nullable=True))
    op.create_table(
        "credit_rescores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_from", UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_to", UTCDateTime(timezone=True), nullable=False),
        sa.Column("changes", _json(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_rescores")),
    )


def downgrade() -> None:
    op.drop_table("credit_rescores")
    with op.batch_alter_table("credit_ledger") as batch:
        batch.drop_column("units")
        batch.drop_column("rules_version")
