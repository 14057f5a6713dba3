"""constellations: leadership timeline and wiki section state

Revision ID: 0006
Revises: 0005
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import core.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _utc() -> core.models.UTCDateTime:
    return core.models.UTCDateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "leadership_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wiki_page_id", sa.Integer(), nullable=False),
        sa.Column("revid", sa.Integer(), nullable=False),
        sa.Column("timestamp", _utc(), nullable=False),
        sa.Column("user", sa.String(length=255), nullable=True),
        sa.Column("lead_partner", sa.String(length=255), nullable=False),
        sa.Column("partners", _json(), nullable=False),
        sa.Column("previous_lead", sa.String(length=255), nullable=True),
        sa.Column("previous_partners", _json(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leadership_changes")),
        sa.UniqueConstraint(
            "wiki_page_id", "revid", name=op.f("uq_leadership_changes_wiki_page_id")
        ),
    )
    op.create_index(
        op.f("ix_leadership_changes_wiki_page_id"),
        "leadership_changes",
        ["wiki_page_id"],
        unique=False,
    )
    op.create_table(
        "wiki_section_states",
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("written_hash", sa.String(length=64), nullable=False),
        sa.Column("written_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("page_id", name=op.f("pk_wiki_section_states")),
    )


def downgrade() -> None:
    op.drop_table("wiki_section_states")
    op.drop_index(op.f("ix_leadership_changes_wiki_page_id"), table_name="leadership_changes")
    op.drop_table("leadership_changes")
