"""privacy: badges taken back when their holder opts out, and DiscourseConnect nonces for
a person's own opt-out page

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

from core.models import UTCDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("badge_grants") as batch:
        batch.add_column(sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("connect_nonces") as batch:
        batch.add_column(
            sa.Column("purpose", sa.String(length=8), nullable=False, server_default="link")
        )


def downgrade() -> None:
    with op.batch_alter_table("connect_nonces") as batch:
        batch.drop_column("purpose")
    with op.batch_alter_table("badge_grants") as batch:
        batch.drop_column("revoked_at")
