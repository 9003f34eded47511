"""Legacy migration: dry run, apply, dedup, resume, and a second run that changes nothing."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaResource, MediaResourceAttachment
from sartiq_storage.adapters.stores import LocalStore, ObjectStore
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.legacy import LegacyMigration, slot_for
from sartiq_storage.services.media.service import MediaResourceService
from sartiq_storage.services.orphans import OrphanScanner
from sartiq_storage.testing.media import image_bytes


@pytest.fixture(params=["local", "s3"])
def lstore(request: pytest.FixtureRequest, tmp_path) -> ObjectStore:  # type: ignore[no-untyped-def]
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    return request.getfixturevalue("s3_store")  # type: ignore[no-any-return]


def test_migration(db: Database, lstore: ObjectStore) -> None:
    product, subject, look = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cover, back = image_bytes("jpg", color=(200, 0, 0)), image_bytes("jpg", color=(0, 0, 200))
    keys = {
        f"images/products/{product}/product_{product}_SKU_1_a1_cover.jpg": cover,
        f"images/products/{product}/product_{product}_SKU_1_b2_cover.jpg": back,  # a second cover
        f"images/subjects/subject_anna_{subject}_c3_cover.jpg": cover,  # same bytes: dedup
        f"shooting_looks/{look}/outfit_{look}_d4.jpg": image_bytes("png", seed=3),
        "images/products/abc123/product_abc123_SKU_e5_cover.jpg": image_bytes(seed=4),  # not a UUID
        "images/temp/temp_f6.png": image_bytes(seed=5),  # nothing to attach to
    }
    for key, data in keys.items():
        lstore.put(key, data, content_type="image/jpeg")
    media = MediaResourceService(db, lstore, UrlResolver("https://cdn.test"))
    migration = LegacyMigration(media)

    dry = migration.run()
    assert (dry.would_migrate, dry.skipped, dry.unattached, dry.registered) == (5, 1, 1, 0)
    assert dry.by_entity == {"PRODUCT": 2, "SUBJECT": 1, "SHOOTING_LOOK": 1}
    # Every key that is not migrated whole is named, with its reason.
    assert [k["key"] for k in dry.skipped_keys] == ["images/temp/temp_f6.png"]
    assert "no entity" in dry.skipped_keys[0]["reason"]
    assert [k["key"] for k in dry.unattached_keys] == [
        "images/products/abc123/product_abc123_SKU_e5_cover.jpg"
    ]
    assert "'abc123' is not a UUID" in dry.unattached_keys[0]["reason"]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(MediaResource)) == 0

    first = migration.run(apply=True, limit=3)  # stop part-way…
    rest = migration.run(apply=True)  # …and resume
    assert rest.already_migrated == first.registered + first.deduplicated
    assert first.registered + rest.registered == 4  # abc123's object too, unattached
    assert first.deduplicated + rest.deduplicated == 1
    with db.session() as session:
        resources = list(session.scalars(select(MediaResource)))
        attachments = list(session.scalars(select(MediaResourceAttachment)))
    assert len(resources) == 4
    assert len({a.media_resource_id for a in attachments}) == 3
    assert all(r.protected for r in resources)
    assert all(r.storage_key.startswith(("images/", "shooting_looks/")) for r in resources)
    covers = sorted(
        (a.position for a in attachments if a.entity_id == product),
        key=lambda p: -1 if p is None else p,
    )
    assert covers == [None, 0]  # nothing dropped: the second cover takes a list position
    assert {a.entity_type for a in attachments} == {"PRODUCT", "SUBJECT", "SHOOTING_LOOK"}
    assert {a.slot for a in attachments} == {"cover_image", "outfit_image"}

    again = migration.run(apply=True)
    assert (again.registered, again.deduplicated, again.already_migrated) == (0, 0, 5)
    for key in keys:
        assert lstore.exists(key)  # legacy objects stay where /files serves them

    # Detaching everything and scanning never deletes a legacy object.
    for attachment in attachments:
        media.detach(attachment.id)
    from datetime import timedelta

    from sartiq_storage.adapters.db.models import utcnow

    later = utcnow() + timedelta(days=30)
    OrphanScanner(db, lstore, media).scan(grace=timedelta(hours=1), apply=True, now=later)
    media.deletions.run_once(now=later)
    for key in keys:
        assert lstore.exists(key)


def test_slot_names() -> None:
    assert slot_for("cover") == "cover_image"
    assert slot_for("reference_images") == "reference_images"
