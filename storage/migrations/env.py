"""Alembic environment: runs on the connection nigran hands over, or on the configured URL."""
from alembic import context

from nigran.storage.db import make_engine, migration_connection
from nigran.storage.models import Base


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        with migration_connection(make_engine(context.config.get_main_option("sqlalchemy.url"))) as connection:
            _migrate(connection)
    else:
        _migrate(connection)


def _migrate(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
