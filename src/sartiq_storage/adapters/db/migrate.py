"""Run the Alembic migrations from code: ``sartiq-storage db upgrade`` and ``serve`` use this."""

from __future__ import annotations

import zlib

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.core.errors import ConfigurationError

SCRIPT_LOCATION = "sartiq_storage.adapters.db:migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def _version_options(database: Database) -> dict[str, str | None]:
    """Where our migration history lives: its own table, in our schema when there is one."""
    return {"version_table": database.version_table, "version_table_schema": database.schema}


def _ensure_schema(connection: Connection, schema: str) -> None:
    """Create our schema when it is missing, and make it the only one unqualified names
    resolve to for this transaction: Alembic's ``ALTER`` statements name tables bare."""
    found = connection.execute(
        text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
    ).first()
    if found is None:
        connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    connection.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')


def _check_history_is_ours(connection: Connection, database: Database) -> None:
    """A version table holding another application's revision (a host's Alembic history in
    the same schema) is refused with the fix, before Alembic's "Can't locate revision"."""
    current = MigrationContext.configure(
        connection, opts=_version_options(database)
    ).get_current_heads()
    known = {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }
    foreign = [revision for revision in current if revision not in known]
    if foreign:
        where = f"{database.schema}." if database.schema else ""
        raise ConfigurationError(
            f"the table {where}{database.version_table} holds revision {foreign[0]!r}, which is "
            "not one of sartiq-storage's: another application's migrations use it. Set "
            "STORAGE_DB_SCHEMA (our own schema) or STORAGE_DB_VERSION_TABLE (docs/embedding.md)"
        )


def migration_lock_key(schema: str) -> int:
    """The PostgreSQL advisory lock that serialises migrations of ``schema`` (the worker's
    job locks are named the same way)."""
    return zlib.crc32(f"sartiq-storage:migrations:{schema}".encode())


def _serialise(connection: Connection, schema: str | None) -> None:
    """On PostgreSQL, wait for any other process migrating the same schema.

    Several ``serve`` processes (and workers) started together on an empty database would
    otherwise all create the same tables and types at once, and all but one fail
    (``duplicate key value violates unique constraint "pg_type_typname_nsp_index"``). The
    lock is transaction-scoped: released by the commit (or by the connection dropping if the
    process dies), after which the next process finds the schema at head and does nothing.
    """
    if connection.dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already makes one writer at a time
    if schema is None:
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
                _serialise(connection, database.schema)
                if database.schema is not None:
                    _ensure_schema(connection, database.schema)
                _check_history_is_ours(connection, database)
                config.attributes["connection"] = connection
                config.attributes["version_options"] = _version_options(database)
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
        opts = _version_options(database)
        return MigrationContext.configure(connection, opts=opts).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
