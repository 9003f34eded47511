"""Our tables beside a host's: ``STORAGE_DB_SCHEMA``, ``STORAGE_DB_VERSION_TABLE``, a host's
own engine (``docs/embedding.md``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from sartiq_storage.config import (
    ConfigurationError,
    Database,
    build_context,
    current_revision,
    head_revision,
    load_settings,
    upgrade,
)
from tests.support.db import postgres_schema_url


def test_a_schema_on_sqlite_is_one_clear_error(tmp_path: Path) -> None:
    settings = load_settings(STORAGE_DATA_DIR=tmp_path, STORAGE_DB_SCHEMA="storage")
    with pytest.raises(ConfigurationError, match="STORAGE_DB_SCHEMA is for PostgreSQL"):
        build_context(settings)


@pytest.mark.parametrize("name", ["Storage", "storage;drop", "pg_storage", "1st", "x" * 64])
def test_schema_and_version_table_names_are_plain_sql_names(name: str) -> None:
    with pytest.raises(ConfigurationError, match="STORAGE_DB_SCHEMA"):
        load_settings(STORAGE_DB_SCHEMA=name)
    with pytest.raises(ConfigurationError, match="STORAGE_DB_VERSION_TABLE"):
        load_settings(STORAGE_DB_VERSION_TABLE=name)


def test_the_defaults_are_todays(tmp_path: Path) -> None:
    settings = load_settings(STORAGE_DATA_DIR=tmp_path)
    assert settings.STORAGE_DB_SCHEMA is None
    assert settings.STORAGE_DB_VERSION_TABLE == "alembic_version"
    database = Database.from_settings(settings)
    try:
        upgrade(database)
        assert set(inspect(database.engine).get_table_names()) >= {
            "alembic_version",
            "media_resources",
        }
    finally:
        database.dispose()


def test_a_hosts_engine_is_left_open(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'host.db'}")
    context = build_context(load_settings(STORAGE_DATA_DIR=tmp_path), engine=engine, migrate=True)
    context.close()
    with engine.connect() as conn:  # still the host's, still usable
        assert conn.execute(text("SELECT count(*) FROM media_resources")).scalar() == 0
    engine.dispose()


@pytest.mark.postgres
def test_another_applications_history_is_refused_with_the_fix() -> None:
    """A host whose Alembic history already sits in ``alembic_version`` of the same schema:
    our upgrade names the table and the two settings instead of Alembic's "Can't locate"."""
    with postgres_schema_url() as url:
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE alembic_version (version_num varchar(32))")
                conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('host0001')")
            with pytest.raises(ConfigurationError, match="STORAGE_DB_SCHEMA") as refused:
                upgrade(Database(engine, owns_engine=False))
            assert "'host0001'" in str(refused.value)
            # Our own version table beside the host's, in the same schema: both histories.
            ours = Database(engine, version_table="storage_alembic_version", owns_engine=False)
            upgrade(ours)
            assert current_revision(ours) == head_revision()
            with engine.connect() as conn:
                host = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            assert host == "host0001"
        finally:
            engine.dispose()


@pytest.mark.postgres
def test_a_schema_holds_our_tables_and_history() -> None:
    """``STORAGE_DB_SCHEMA`` on a host's engine: the schema is made, our tables and our
    ``alembic_version`` go there, nothing of ours in the connection's own schema."""
    with postgres_schema_url() as url:
        engine = create_engine(url)
        ours = f"storage_{abs(hash(url)) % 10**8}"
        try:
            database = Database(engine, schema=ours, owns_engine=False)
            upgrade(database)
            upgrade(database)  # idempotent
            assert current_revision(database) == head_revision()
            found = inspect(engine)
            assert found.get_table_names() == []  # the connection's schema: the host's
            assert {"alembic_version", "media_resources", "dataset_kv"} <= set(
                found.get_table_names(schema=ours)
            )
            with database.session() as session:  # statements go to our schema
                assert session.execute(text("SELECT 1")).scalar() == 1
            with database.read_connection() as conn:
                from sartiq_storage.adapters.db.models import MediaResource, table_of

                assert conn.execute(table_of(MediaResource).select()).all() == []
        finally:
            with engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{ours}" CASCADE')
            engine.dispose()
