"""Migrations upgrade an empty database to exactly the schema the models describe."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.migrate import (
    current_revision,
    head_revision,
    migration_lock_key,
    upgrade,
)
from sartiq_storage.adapters.db.models import Base
from tests.support.db import postgres_database, url_for_processes
from tests.support.serve_process import ENTRY_POINT


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


def test_rebuilding_a_table_on_sqlite_keeps_every_referencing_row(tmp_path: Path) -> None:
    """0005 rebuilds media_resources on SQLite; the rows that cascade from it must survive.

    With foreign keys on, dropping the old table would first run ON DELETE CASCADE on every
    ingestion record and tag link (and RESTRICT would refuse it because of attachments).
    """
    import uuid

    from sqlalchemy import text

    db = Database.from_url(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(db, "0004")
    rid, entity, tag = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO media_resources (id, resource_type, storage_key, content_hash,"
                " extension, content_type, file_size, protected, created_at, updated_at)"
                " VALUES (:id, 'IMAGE', :key, :md5, 'png', 'image/png', 1, 0,"
                " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ),
            {"id": rid, "key": f"media/{rid}/file.png", "md5": "a" * 32},
        )
        conn.execute(
            text(
                "INSERT INTO media_resource_attachments (id, media_resource_id, entity_type,"
                " entity_id, slot, position, created_at)"
                " VALUES (:id, :rid, 'PRODUCT', :entity, 'cover', NULL, '2026-01-01 00:00:00')"
            ),
            {"id": uuid.uuid4().hex, "rid": rid, "entity": entity},
        )
        conn.execute(
            text(
                "INSERT INTO media_ingestions (source_key, media_resource_id, created_at)"
                " VALUES ('temp/x.png', :rid, '2026-01-01 00:00:00')"
            ),
            {"rid": rid},
        )
        conn.execute(
            text(
                "INSERT INTO tags (id, name, owner_id, created_at, updated_at)"
                " VALUES (:id, 'red', 'u', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ),
            {"id": tag},
        )
        conn.execute(
            text(
                "INSERT INTO media_resource_tags (media_resource_id, tag_id, created_at)"
                " VALUES (:rid, :tag, '2026-01-01 00:00:00')"
            ),
            {"rid": rid, "tag": tag},
        )
    upgrade(db)
    with db.engine.connect() as conn:
        for table in ("media_resource_attachments", "media_ingestions", "media_resource_tags"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 1, table
        assert conn.execute(text("SELECT collision_rank FROM media_resources")).scalar() == 0
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()


def test_concurrent_upgrades_on_postgres_take_turns() -> None:
    """A `db upgrade` (as `serve` and `worker` run at start) waits for the advisory lock that
    another migrating process holds, instead of creating the same tables at the same time
    (which failed all but one of several processes started together on an empty database:
    ``duplicate key value violates unique constraint "pg_type_typname_nsp_index"``)."""
    with postgres_database(create_tables=False) as db:
        with db.engine.connect() as holder:
            schema = holder.exec_driver_sql("SELECT current_schema()").scalar_one()
            key = migration_lock_key(schema)
            holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            holder.commit()
            upgrade_process = subprocess.Popen(
                [ENTRY_POINT, "db", "upgrade"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "DATABASE_URL": url_for_processes(db)},
            )
            try:
                waiting = 0
                while not waiting and upgrade_process.poll() is None:
                    waiting = holder.execute(
                        text(
                            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                            "AND objid = :k AND NOT granted"
                        ),
                        {"k": key},
                    ).scalar_one()
                    holder.commit()
                    time.sleep(0.05)
                # It waited for the lock; the old code migrated past it and exited.
                assert waiting == 1, upgrade_process.communicate()
                assert current_revision(db) is None
            finally:
                holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                holder.commit()
                _, errors = upgrade_process.communicate(timeout=120)
        assert upgrade_process.returncode == 0, errors
        assert current_revision(db) == head_revision()


def _video_row_at_0005(db: Database) -> str:
    import uuid

    rid = uuid.uuid4().hex
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO media_resources (id, resource_type, storage_key, content_hash,"
                " collision_rank, extension, content_type, file_size, duration, protected,"
                " created_at, updated_at) VALUES (:id, 'VIDEO', :key, :md5, 0, 'mp4',"
                " 'video/mp4', 1, 2.5, false, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ),
            {"id": rid, "key": f"media/{rid}/file.mp4", "md5": "b" * 32},
        )
    return rid


def _upgrade_from_0005(db: Database) -> None:
    """0006 adds the video's codec and frame rate, null on the rows already there."""
    upgrade(db, "0005")
    rid = _video_row_at_0005(db)
    upgrade(db)
    assert current_revision(db) == head_revision()
    with db.engine.connect() as conn:
        row = conn.execute(
            text("SELECT duration, codec, frame_rate FROM media_resources WHERE id = :id"),
            {"id": rid},
        ).one()
    assert tuple(row) == (2.5, None, None)
    _check(db)


def test_sqlite_upgrades_from_0005_with_a_video_row(tmp_path: Path) -> None:
    db = Database.from_url(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        _upgrade_from_0005(db)
    finally:
        db.dispose()


def test_postgres_upgrades_from_0005_with_a_video_row() -> None:
    with postgres_database(create_tables=False) as db:
        _upgrade_from_0005(db)
