"""automations: rule runs, the objects rules made (loop prevention), cron cursors and
the named wiki sections rules write

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import core.models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _utc() -> core.models.UTCDateTime:
    return core.models.UTCDateTime(timezone=True)


def _json() -> sa.JSON:  # JSONB on PostgreSQL, as core.models.Payload
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "automation_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("event_kind", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("actions", _json(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_runs")),
        sa.UniqueConstraint("rule", "event_id", name="uq_automation_runs_rule_event"),
    )
    with op.batch_alter_table("automation_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_automation_runs_rule"), ["rule"], unique=False)
        batch_op.create_index(
            "ix_automation_runs_state_time", ["state", "started_at"], unique=False
        )

    op.create_table(
        "automation_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("object", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("chain", _json(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_marks")),
    )
    with op.batch_alter_table("automation_marks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_automation_marks_object"), ["object"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_automation_marks_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "automation_schedule_cursors",
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("cron", sa.String(length=128), nullable=False),
        sa.Column("last_slot", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("rule", name=op.f("pk_automation_schedule_cursors")),
    )
    op.create_table(
        "automation_wiki_sections",
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("written_hash", sa.String(length=64), nullable=False),
        sa.Column("written_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("page_id", "name", name=op.f("pk_automation_wiki_sections")),
    )


def downgrade() -> None:
    op.drop_table("automation_wiki_sections")
    op.drop_table("automation_schedule_cursors")
    with op.batch_alter_table("automation_marks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_automation_marks_expires_at"))
        batch_op.drop_index(batch_op.f("ix_automation_marks_object"))
    op.drop_table("automation_marks")
    with op.batch_alter_table("automation_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_automation_runs_state_time")
        batch_op.drop_index(batch_op.f("ix_automation_runs_rule"))
    op.drop_table("automation_runs")
