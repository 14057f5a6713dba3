"""health: the store counts the changes the health figures read, so a scope's figures can
be updated from what changed since they were last computed; a category's index covers
what the figures read of its posts

``health_generations`` holds a counter per stream of changes: one per forum category
(bumped by each new post of the category, whose id ``health_post_log`` keeps under that
generation), one for every other input of the figures (``EVERY_INPUT``: people, accounts,
partners, practices, adoptions, leadership changes, and any change to a stored post), and
one each for what a kept scope can read again on its own: the wiki's changes
(``WIKI_PAGES``), the accounts' first posts (``FIRST_POSTS``) and the constellations'
page links (``LINKS``). Triggers keep them, so no writer can forget
to: each bump updates one row, which PostgreSQL locks until the writer commits, so the
generations of one stream commit in order. SQLite's batch mode copies a table to alter it
and drops its triggers: a later migration that batch-alters one of these tables must
create them again (``tests/core/test_store.py`` checks that they exist at the head).

Revision ID: 0024
Revises: 0023
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

EVERY_INPUT = 0
WIKI_PAGES = -1
FIRST_POSTS = -2
LINKS = -3
# Not a counter: a number drawn when the store was made, so figures kept in memory are
# never brought forward in another store (or one made again at the same address).
IDENTITY = -4
POSTS = "forum_post_activity"
INPUT_TABLES = (
    "people",
    "accounts",
    "partners",
    "practices",
    "practice_adoptions",
    "leadership_changes",
)
# Tables whose changes a kept scope reads again by itself, each with its own stream.
SIDE_TABLES = {
    "wiki_change_activity": WIKI_PAGES,
    "forum_first_posts": FIRST_POSTS,
    "page_topic_links": LINKS,
}
STREAMS = (EVERY_INPUT, *SIDE_TABLES.values())
OPERATIONS = ("insert", "update", "delete")


# The columns of a stored post the figures read (its text and updated_at are not): the
# category's index covers them, and a change to one of them is a change to every input.
CATEGORY_INDEX = "ix_forum_post_activity_category_time"
HEALTH_COLUMNS = (
    "category_id",
    "created_at",
    "post_id",
    "topic_id",
    "post_number",
    "reply_to_post_number",
    "username",
    "deleted",
    "hidden",
    "private",
    "post_type",
)


def upgrade() -> None:
    op.drop_index(CATEGORY_INDEX, table_name=POSTS)
    op.create_index(CATEGORY_INDEX, POSTS, list(HEALTH_COLUMNS))
    op.create_table(
        "health_generations",
        sa.Column("stream", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("generation", sa.Integer(), nullable=False),
    )
    op.create_table(
        "health_post_log",
        sa.Column("category_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("generation", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
    )
    op.bulk_insert(
        sa.table("health_generations", sa.column("stream"), sa.column("generation")),
        [{"stream": stream, "generation": 0} for stream in STREAMS]
        + [{"stream": IDENTITY, "generation": secrets.randbelow(2**31)}],
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in (POSTS, *INPUT_TABLES, *SIDE_TABLES):
            for name in _trigger_names(table):
                op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS health_post_inserted()")
        for stream in STREAMS:
            op.execute(f"DROP FUNCTION IF EXISTS {_function(stream)}()")
    else:
        for table in (POSTS, *INPUT_TABLES, *SIDE_TABLES):
            for name in _trigger_names(table):
                op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("health_post_log")
    op.drop_table("health_generations")
    op.drop_index(CATEGORY_INDEX, table_name=POSTS)
    op.create_index(CATEGORY_INDEX, POSTS, ["category_id", "created_at"])


def _trigger_names(table: str) -> list[str]:
    return [f"health_{table}_{operation}" for operation in OPERATIONS]


def _function(stream: int) -> str:
    """The PostgreSQL function that bumps a stream."""
    return f"health_changed_{abs(stream)}"


def _bump(stream: int) -> str:
    # Table names and streams are this module's constants: nothing from outside.
    return f"UPDATE health_generations SET generation = generation + 1 WHERE stream = {stream};"  # noqa: S608


def _sqlite_triggers() -> None:
    op.execute(
        f"""CREATE TRIGGER health_{POSTS}_insert AFTER INSERT ON {POSTS}
        WHEN NEW.category_id IS NOT NULL
        BEGIN
            INSERT OR IGNORE INTO health_generations (stream, generation)
                VALUES (NEW.category_id, 0);
            UPDATE health_generations SET generation = generation + 1
                WHERE stream = NEW.category_id;
            INSERT INTO health_post_log (category_id, generation, post_id)
                SELECT stream, generation, NEW.post_id FROM health_generations
                WHERE stream = NEW.category_id;
        END"""  # noqa: S608 (constants only)
    )
    _sqlite_changed(POSTS, HEALTH_COLUMNS, EVERY_INPUT)
    streams = {table: EVERY_INPUT for table in INPUT_TABLES} | SIDE_TABLES
    for table, stream in streams.items():
        op.execute(
            f"CREATE TRIGGER health_{table}_insert AFTER INSERT ON {table} "
            f"BEGIN {_bump(stream)} END"
        )
        columns = [column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)]
        _sqlite_changed(table, columns, stream)


def _sqlite_changed(table: str, columns: tuple[str, ...] | list[str], stream: int) -> None:
    """An update that changed one of ``columns``, and any delete, bumps ``stream``."""
    changed = " OR ".join(f'OLD."{column}" IS NOT NEW."{column}"' for column in columns)
    op.execute(
        f"CREATE TRIGGER health_{table}_update AFTER UPDATE ON {table} WHEN {changed} "
        f"BEGIN {_bump(stream)} END"
    )
    op.execute(
        f"CREATE TRIGGER health_{table}_delete AFTER DELETE ON {table} BEGIN {_bump(stream)} END"
    )


def _postgresql_triggers() -> None:
    op.execute(
        """CREATE FUNCTION health_post_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE reached integer;
        BEGIN
            IF NEW.category_id IS NULL THEN RETURN NULL; END IF;
            INSERT INTO health_generations (stream, generation) VALUES (NEW.category_id, 1)
                ON CONFLICT (stream) DO UPDATE SET generation = health_generations.generation + 1
                RETURNING generation INTO reached;
            INSERT INTO health_post_log (category_id, generation, post_id)
                VALUES (NEW.category_id, reached, NEW.post_id);
            RETURN NULL;
        END $$"""
    )
    for stream in STREAMS:
        op.execute(
            f"""CREATE FUNCTION {_function(stream)}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN {_bump(stream)} RETURN NULL; END $$"""
        )
    op.execute(
        f"CREATE TRIGGER health_{POSTS}_insert AFTER INSERT ON {POSTS} "
        "FOR EACH ROW EXECUTE FUNCTION health_post_inserted()"
    )
    changed = " OR ".join(f"OLD.{name} IS DISTINCT FROM NEW.{name}" for name in HEALTH_COLUMNS)
    _postgresql_changed(POSTS, f"({changed})", _function(EVERY_INPUT), with_insert=False)
    streams = {table: EVERY_INPUT for table in INPUT_TABLES} | SIDE_TABLES
    for table, stream in streams.items():
        _postgresql_changed(table, "(OLD.* IS DISTINCT FROM NEW.*)", _function(stream))


def _postgresql_changed(table: str, when: str, function: str, *, with_insert: bool = True) -> None:
    """Row triggers: a statement that changes no row (an upsert that did nothing) bumps
    nothing."""
    if with_insert:
        op.execute(
            f"CREATE TRIGGER health_{table}_insert AFTER INSERT ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        )
    op.execute(
        f"CREATE TRIGGER health_{table}_update AFTER UPDATE ON {table} "
        f"FOR EACH ROW WHEN {when} EXECUTE FUNCTION {function}()"
    )
    op.execute(
        f"CREATE TRIGGER health_{table}_delete AFTER DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {function}()"
    )
