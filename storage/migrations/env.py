"""Alembic environment: runs on the connection nigran hands over, or, from the stock `alembic` command
(alembic.ini at the repository root), on `-x db=URL`, else `sqlalchemy.url`, else nigran's own database
($NIGRAN_DB, else the data home's SQLite)."""
from logging.config import fileConfig

from alembic import context

from nigran.storage.db import make_engine, migration_connection
from nigran.storage.home import default_db_url
from nigran.storage.models import Base


def database_url() -> str:
    return (context.get_x_argument(as_dictionary=True).get("db") or context.config.get_main_option("sqlalchemy.url")
            or default_db_url())


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    if context.config.config_file_name is not None:
        fileConfig(context.config.config_file_name, disable_existing_loggers=False)
    with migration_connection(make_engine(database_url())) as connection:
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
