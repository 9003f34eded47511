"""Migrations upgrade an empty database to exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.migrate import current_revision, head_revision, upgrade
from sartiq_storage.adapters.db.models import Base
from tests.support.db import postgres_database


def _check(db: Database) -> None:
    upgrade(db)
    upgrade(db)  # idempotent
    assert current_revision(db) == head_revision()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        # Expression indexes are not reflected; ask the catalogue directly.
        if db.is_postgres:
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_attachment_slot'"
        else:
            sql = "SELECT sql FROM sqlite_master WHERE name = 'uq_attachment_slot'"
        definition = str(conn.exec_driver_sql(sql).scalar()).lower()
    assert "unique" in definition
    assert "coalesce" in definition
    assert [d for d in diff if "uq_attachment_slot" not in str(d)] == []


def test_sqlite_from_empty(tmp_path: Path) -> None:
    db = Database.from_url(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        _check(db)
    finally:
        db.dispose()


def test_postgres_from_empty() -> None:
    with postgres_database(create_tables=False) as db:
        _check(db)


@pytest.mark.parametrize("position", [None, 0])
def test_slot_uniqueness_is_enforced_by_the_migrated_schema(
    tmp_path: Path, position: int | None
) -> None:
    import uuid

    from sqlalchemy.exc import IntegrityError

    from sartiq_storage.adapters.db.models import (
        MediaResource,
        MediaResourceAttachment,
        ResourceType,
    )

    db = Database.from_url(f"sqlite:///{tmp_path / 'u.db'}")
    upgrade(db)
    rid, entity = uuid.uuid4(), uuid.uuid4()
    with db.session() as session:
        session.add(
            MediaResource(
                id=rid,
                resource_type=ResourceType.IMAGE,
                storage_key=f"media/{rid}/file.png",
                content_hash="0" * 32,
                extension="png",
                content_type="image/png",
                file_size=1,
            )
        )
        session.flush()
        session.add(
            MediaResourceAttachment(
                media_resource_id=rid,
                entity_type="P",
                entity_id=entity,
                slot="s",
                position=position,
            )
        )
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(
            MediaResourceAttachment(
                media_resource_id=rid,
                entity_type="P",
                entity_id=entity,
                slot="s",
                position=position,
            )
        )
    db.dispose()
