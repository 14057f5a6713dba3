"""practices and credits

Revision ID: 0007
Revises: 0006

"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import core.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _utc() -> core.models.UTCDateTime:
    return core.models.UTCDateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "badge_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("badge", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("forum_badge_id", sa.Integer(), nullable=False),
        sa.Column("user_badge_id", sa.Integer(), nullable=True),
        sa.Column("granted_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_badge_grants")),
        sa.UniqueConstraint("badge", "username", name=op.f("uq_badge_grants_badge")),
    )
    op.create_table(
        "connect_logins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("forum_username", sa.String(length=255), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("logged_in_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_logins")),
    )
    with op.batch_alter_table("connect_logins", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_connect_logins_forum_username"), ["forum_username"], unique=False
        )

    op.create_table(
        "credit_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.String(length=255), nullable=False),
        sa.Column("platform", sa.String(length=8), nullable=False),
        sa.Column("account", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("object", sa.String(length=128), nullable=False),
        sa.Column("ref", sa.String(length=128), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("occurred_at", _utc(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=128), nullable=True),
        sa.Column("cancels_key", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_ledger")),
        sa.UniqueConstraint("cancels_key", name=op.f("uq_credit_ledger_cancels_key")),
        sa.UniqueConstraint("entry_key", name=op.f("uq_credit_ledger_entry_key")),
    )
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credit_ledger_account"), ["account"], unique=False)
        batch_op.create_index(batch_op.f("ix_credit_ledger_scope"), ["scope"], unique=False)

    op.create_table(
        "link_suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wiki_username", sa.String(length=255), nullable=False),
        sa.Column("forum_username", sa.String(length=255), nullable=False),
        sa.Column(
            "reasons",
            _json(),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_suggestions")),
        sa.UniqueConstraint(
            "wiki_username", "forum_username", name=op.f("uq_link_suggestions_wiki_username")
        ),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("organisation", sa.String(length=255), nullable=True),
        sa.Column("organisation_source", sa.String(length=16), nullable=True),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
    )
    op.create_table(
        "practice_adoptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("organisation", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("revid", sa.Integer(), nullable=True),
        sa.Column("adopted_at", _utc(), nullable=False),
        sa.Column("withdrawn_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_adoptions")),
        sa.UniqueConstraint("page_id", "organisation", name=op.f("uq_practice_adoptions_page_id")),
    )
    with op.batch_alter_table("practice_adoptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_practice_adoptions_page_id"), ["page_id"], unique=False
        )

    op.create_table(
        "practice_suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=True),
        sa.Column("tag", sa.String(length=100), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column(
            "reasons",
            _json(),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("page_title", sa.String(length=255), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_suggestions")),
        sa.UniqueConstraint("key", name=op.f("uq_practice_suggestions_key")),
    )
    op.create_table(
        "practice_tag_names",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_practice_tag_names")),
    )
    with op.batch_alter_table("practice_tag_names", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_practice_tag_names_page_id"), ["page_id"], unique=False
        )

    op.create_table(
        "practice_topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("slug", sa.String(length=255), nullable=False),
        sa.Column("matched_by", sa.String(length=16), nullable=False),
        sa.Column("found_at", _utc(), nullable=False),
        sa.Column("removed_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_topics")),
        sa.UniqueConstraint("page_id", "topic_id", name=op.f("uq_practice_topics_page_id")),
    )
    with op.batch_alter_table("practice_topics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_practice_topics_page_id"), ["page_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_practice_topics_topic_id"), ["topic_id"], unique=False)

    op.create_table(
        "practices",
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("originating_organisation", sa.String(length=255), nullable=False),
        sa.Column(
            "related_constellations",
            _json(),
            nullable=False,
        ),
        sa.Column(
            "aliases",
            _json(),
            nullable=False,
        ),
        sa.Column("revid", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=True),
        sa.Column("author_platform", sa.String(length=8), nullable=True),
        sa.Column("deleted_at", _utc(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("page_id", name=op.f("pk_practices")),
        sa.UniqueConstraint("tag", name=op.f("uq_practices_tag")),
    )
    with op.batch_alter_table("practices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_practices_title"), ["title"], unique=False)

    op.create_table(
        "wiki_authorship",
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("revid", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            _json(),
            nullable=False,
        ),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("page_id", name=op.f("pk_wiki_authorship")),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=8), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_accounts_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("platform", "username", name=op.f("uq_accounts_platform")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_person_id"))

    op.drop_table("accounts")
    op.drop_table("wiki_authorship")
    with op.batch_alter_table("practices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practices_title"))

    op.drop_table("practices")
    with op.batch_alter_table("practice_topics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practice_topics_topic_id"))
        batch_op.drop_index(batch_op.f("ix_practice_topics_page_id"))

    op.drop_table("practice_topics")
    with op.batch_alter_table("practice_tag_names", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practice_tag_names_page_id"))

    op.drop_table("practice_tag_names")
    op.drop_table("practice_suggestions")
    with op.batch_alter_table("practice_adoptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practice_adoptions_page_id"))

    op.drop_table("practice_adoptions")
    op.drop_table("people")
    op.drop_table("link_suggestions")
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_ledger_scope"))
        batch_op.drop_index(batch_op.f("ix_credit_ledger_account"))

    op.drop_table("credit_ledger")
    with op.batch_alter_table("connect_logins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connect_logins_forum_username"))

    op.drop_table("connect_logins")
    op.drop_table("badge_grants")
