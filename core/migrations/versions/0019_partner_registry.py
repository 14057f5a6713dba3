"""partner registry: the organisations table becomes the partners declared on the wiki

Its rows were every non-automatic forum group (a "stewards" group counted as a partner);
they are dropped: the registry is filled from the wiki's partner pages by the next sync.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

from core.models import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("organisations")
    op.create_table(
        "partners",
        sa.Column("group_name", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("short_name", sa.String(length=255), nullable=True),
        sa.Column("page_id", sa.Integer(), nullable=True),
        sa.Column("wiki_title", sa.String(length=255), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("website", sa.String(length=255), nullable=True),
        sa.Column("joined", sa.Date(), nullable=True),
        sa.Column("retired_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("group_name", name=op.f("pk_partners")),
        sa.UniqueConstraint("page_id", name=op.f("uq_partners_page_id")),
    )


def downgrade() -> None:
    op.drop_table("partners")
    op.create_table(
        "organisations",
        sa.Column("group_name", sa.String(length=255), nullable=False),
        sa.Column("full_name", sa.String(length=255), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("group_name", name=op.f("pk_organisations")),
    )
