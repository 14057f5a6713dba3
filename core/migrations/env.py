"""Alembic environment: the URL comes from core.migrate, never from a file.

Migrations are written by hand and run without the models: the foundation knows no
table above it. ``target_metadata`` (every table, service/tables.py) is given only by
whoever compares the models with the migrations.
"""

from alembic import context

from core.store import make_engine

url = context.config.attributes["url"]
metadata = context.config.attributes.get("metadata")
engine = make_engine(url)
try:
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=True,  # SQLite needs batch mode to alter tables
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
finally:
    engine.dispose()
