"""Heal restores from known sources, fills metadata, reports the rest; a second run is a no-op."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaResource
from sartiq_storage.adapters.stores import LocalStore, ObjectStore
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.heal import Healer
from sartiq_storage.services.media.service import MediaResourceService
from sartiq_storage.testing.media import image_bytes
from tests.support.media_service import CDN, product, upload


@pytest.fixture(params=["local", "s3"])
def hstore(request: pytest.FixtureRequest, tmp_path) -> ObjectStore:  # type: ignore[no-untyped-def]
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    return request.getfixturevalue("s3_store")  # type: ignore[no-any-return]


def test_heal(db: Database, hstore: ObjectStore) -> None:
    # Keep the uploads (no post-commit delete), so they remain known sources.
    media = MediaResourceService(db, hstore, UrlResolver(CDN), drain_after_commit=False)
    restorable = media.ingest(upload(hstore, image_bytes(seed=1)), product()).resource
    lost = media.ingest(upload(hstore, image_bytes(seed=2)), product()).resource
    stale = media.ingest(upload(hstore, image_bytes(seed=3)), product()).resource
    hstore.delete(restorable.storage_key)
    hstore.delete(lost.storage_key)
    for info in list(hstore.list("temp/")):
        if hstore.get_bytes(info.key) == image_bytes(seed=2):
            hstore.delete(info.key)  # lost's source is gone too
    with db.session() as session:
        session.execute(
            update(MediaResource)
            .where(MediaResource.id == stale.id)
            .values(dominant_color=None, width=None, sha256=None)
        )
    healer = Healer(db, hstore)
    dry = healer.heal(dry_run=True)
    assert dry.checked == 3
    assert {f["id"] for f in dry.fixed} == {str(restorable.id), str(stale.id)}
    assert [u["id"] for u in dry.unfixable] == [str(lost.id)]
    assert not hstore.exists(restorable.storage_key)  # the dry run changed nothing
    done = healer.heal(dry_run=False)
    assert {f["id"] for f in done.fixed} == {str(restorable.id), str(stale.id)}
    assert hstore.get_bytes(restorable.storage_key) == image_bytes(seed=1)
    assert (
        hstore.head(restorable.storage_key).cache_control == "public, max-age=31536000, immutable"
    )
    healed = media.get(stale.id)
    assert healed.width == 64
    assert healed.dominant_color is not None
    assert healed.sha256 is not None
    again = healer.heal(dry_run=False)
    assert again.fixed == []
    assert [u["id"] for u in again.unfixable] == [str(lost.id)]
