"""Alembic environment: the URL comes from core.migrate, never from a file."""

from alembic import context

from core.store import make_engine
from core.tables import metadata

url = context.config.attributes["url"]
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
