"""Run the Alembic migrations from code: ``sartiq-storage db upgrade`` and ``serve`` use this."""

from __future__ import annotations

import zlib

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from sartiq_storage.adapters.db.engine import Database

SCRIPT_LOCATION = "sartiq_storage.adapters.db:migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def migration_lock_key(schema: str) -> int:
    """The PostgreSQL advisory lock that serialises migrations of ``schema`` (the worker's
    job locks are named the same way)."""
    return zlib.crc32(f"sartiq-storage:migrations:{schema}".encode())


def _serialise(connection: Connection) -> None:
    """On PostgreSQL, wait for any other process migrating the same schema.

    Several ``serve`` processes (and workers) started together on an empty database would
    otherwise all create the same tables and types at once, and all but one fail
    (``duplicate key value violates unique constraint "pg_type_typname_nsp_index"``). The
    lock is transaction-scoped: released by the commit (or by the connection dropping if the
    process dies), after which the next process finds the schema at head and does nothing.
    """
    if connection.dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already makes one writer at a time
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    connection.execute(
        text("SELECT pg_advisory_xact_lock(:key)"), {"key": migration_lock_key(schema)}
    )


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent; concurrent callers take turns).

    On SQLite, a migration that rebuilds a table (``batch_alter_table``) drops the old one;
    with foreign keys on, that drop would first run the ``ON DELETE`` actions of every
    referencing row (cascading deletes). So, as SQLite's own procedure for schema changes
    says, foreign keys are off while migrating (the pragma is ignored inside a transaction)
    and ``foreign_key_check`` must come back empty before the commit.
    """
    config = alembic_config()
    with database.engine.connect() as connection:
        sqlite = database.engine.dialect.name == "sqlite"
        raw = connection.connection.driver_connection if sqlite else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                _serialise(connection)
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
