"""DiscourseConnect: issued nonces, one login row per forum account

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _utc() -> core.models.UTCDateTime:
    return core.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "connect_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("wiki_username", sa.String(length=255), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("used_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_connect_nonces")),
    )
    op.create_index(
        op.f("ix_connect_nonces_expires_at"), "connect_nonces", ["expires_at"], unique=False
    )
    # Earlier logins added a row each; keep the latest per forum account before the
    # unique constraint goes on.
    op.execute(
        "DELETE FROM connect_logins WHERE id NOT IN "
        "(SELECT MAX(id) FROM connect_logins GROUP BY external_id)"
    )
    with op.batch_alter_table("connect_logins", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wiki_username", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_connect_logins_external_id"), ["external_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("connect_logins", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_connect_logins_external_id"), type_="unique")
        batch_op.drop_column("wiki_username")
    op.drop_index(op.f("ix_connect_nonces_expires_at"), table_name="connect_nonces")
    op.drop_table("connect_nonces")
