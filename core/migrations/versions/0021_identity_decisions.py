"""identity decisions: every link and unlink a moderator made, with what a link changed,
so an unlink puts people back exactly as they were

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from core.models import UTCDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def _json() -> sa.JSON:  # JSONB on PostgreSQL, as core.models.Payload
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "identity_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("platform", sa.String(length=8), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("joined_platform", sa.String(length=8), nullable=True),
        sa.Column("joined_username", sa.String(length=255), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("moved_person", _json(), nullable=False),
        sa.Column("joined_before", _json(), nullable=False),
        sa.Column("joined_after", _json(), nullable=False),
        sa.Column("undone_by", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_decisions")),
    )


def downgrade() -> None:
    op.drop_table("identity_decisions")
