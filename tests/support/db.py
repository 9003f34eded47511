"""Databases for tests: SQLite in a temp folder, or a fresh PostgreSQL schema per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import Base

PG_ENV = "SARTIQ_TEST_DATABASE_URL"


def postgres_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@contextmanager
def sqlite_database(folder: Path) -> Iterator[Database]:
    db = Database.from_url(f"sqlite:///{folder / 'test.db'}")
    Base.metadata.create_all(db.engine)
    try:
        yield db
    finally:
        db.dispose()


def url_for_processes(db: Database) -> str:
    """A ``DATABASE_URL`` that puts another process (``serve``, ``worker``, the CLI) on the
    same PostgreSQL schema as ``db``."""
    with db.engine.connect() as conn:
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    url = db.engine.url.set(query={"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A SQLAlchemy URL whose connections use a fresh schema, dropped afterwards (skips the
    test when PostgreSQL is not configured)."""
    url = postgres_url()
    if url is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (CI sets it; see .ci/run)")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = Database.from_url(url, pool_size=1, max_overflow=0)
    with admin.engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@contextmanager
def postgres_database(*, create_tables: bool = True) -> Iterator[Database]:
    with postgres_schema_url() as url:
        db = Database.from_url(url)
        try:
            if create_tables:
                Base.metadata.create_all(db.engine)
            yield db
        finally:
            db.dispose()
