"""Engines and sessions, with the settings each database needs to be safe under concurrency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from sartiq_storage.core.config import DEFAULT_VERSION_TABLE, Settings
from sartiq_storage.core.errors import ConfigurationError


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


READ_ONLY = "sartiq_read_only"


def _sqlite_begin(connection: Any) -> None:
    # Writers take the write lock at BEGIN, so two of them queue instead of deadlocking on
    # upgrade. Reads begin deferred: under WAL they neither wait for nor block a writer.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (the driver we install)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling is switched off so BEGIN IMMEDIATE is ours.
        event.listen(engine, "connect", lambda conn, _rec: setattr(conn, "isolation_level", None))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


class Database:
    """An engine and its session factory.

    ``schema``: a PostgreSQL schema our tables live in, for a database shared with a host
    application. Every statement built from our tables is translated to it
    (``schema_translate_map``), so the engine can be the host's own without changing its
    ``search_path``. ``owns_engine=False``: :meth:`dispose` leaves a host's engine alone.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        schema: str | None = None,
        version_table: str = DEFAULT_VERSION_TABLE,
        owns_engine: bool = True,
    ) -> None:
        if schema is not None and engine.dialect.name != "postgresql":
            raise ConfigurationError(
                f"STORAGE_DB_SCHEMA is for PostgreSQL; {engine.dialect.name} has no schemas "
                "(give this service its own database file instead)"
            )
        self.schema = schema
        self.version_table = version_table
        """Alembic's table for our migration history (``adapters/db/migrate.py``)."""
        self.owns_engine = owns_engine
        if schema is not None:
            engine = engine.execution_options(schema_translate_map={None: schema})
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer at a time; its busy handler makes the others sleep and poll,
        # which under 32 concurrent presigns put p99 at 1.2 s for a 0.7 ms insert. Writers
        # of this process queue here instead and are woken the moment the lock is free.
        self._writer: AbstractContextManager[object] = (
            threading.RLock() if engine.dialect.name == "sqlite" else nullcontext()
        )
        self.read_engine = engine.execution_options(**{READ_ONLY: True})

    @classmethod
    def from_url(cls, url: str, *, schema: str | None = None, **kwargs: Any) -> Database:
        return cls(make_engine(url, **kwargs), schema=schema)

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine | None = None) -> Database:
        """The settings' database (``DATABASE_URL``, ``STORAGE_DB_SCHEMA``), or ``engine``
        (a host application's, left open by :meth:`dispose`) in that schema."""
        schema, version_table = settings.STORAGE_DB_SCHEMA, settings.STORAGE_DB_VERSION_TABLE
        if engine is None:
            return cls(
                make_engine(settings.database_url), schema=schema, version_table=version_table
            )
        return cls(engine, schema=schema, version_table=version_table, owns_engine=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with self._writer, self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A Core connection in a write transaction (``BEGIN IMMEDIATE`` on SQLite, queued
        behind this process's other writers), committed on success: for bulk statements
        that need no unit of work (``group_commit.py``)."""
        with self._writer, self.engine.begin() as connection:
            yield connection

    @contextmanager
    def write_on(self, connection: Connection) -> Iterator[Connection]:
        """:meth:`write_connection` on a connection its caller keeps between transactions
        (the group committer's writer: no pool checkout, ping and reset per group)."""
        with self._writer, connection.begin():
            yield connection

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A Core connection in a read transaction, the cheapest way to run a few SELECTs; on
        SQLite it begins deferred, so it takes no write lock (nothing may write through it)."""
        with self.read_engine.begin() as connection:
            yield connection

    def dispose(self) -> None:
        if self.owns_engine:
            self.engine.dispose()
