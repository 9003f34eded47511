"""Deferred enrichment: the fast path trusts a plain-MD5 ETag; heal fills the rest later."""

from __future__ import annotations

import hashlib

import pytest

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.stores import LocalStore, MemoryStore, ObjectStore
from sartiq_storage.core.errors import ConflictError, UnsupportedMediaError
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.hashing import stream_digests
from sartiq_storage.services.media.heal import Healer
from sartiq_storage.services.media.service import HEADER_BYTES, MediaResourceService
from tests.services.conftest import CDN, product, upload
from tests.support.media import image_bytes


def _big_jpeg(seed: int) -> bytes:
    import pyvips

    noise = pyvips.Image.gaussnoise(700, 700, mean=128, sigma=50, seed=seed)
    data = bytes(noise.bandjoin([noise, noise]).cast("uchar").write_to_buffer(".jpg[Q=90]"))
    assert len(data) > HEADER_BYTES
    return data


@pytest.fixture
def fast(db: Database, mstore: ObjectStore) -> MediaResourceService:
    return MediaResourceService(db, mstore, UrlResolver(CDN), inline_enrichment=False)


def test_fast_path_then_heal(fast: MediaResourceService, mstore: ObjectStore, db: Database) -> None:
    data = _big_jpeg(1)
    resource = fast.ingest(upload(mstore, data, "big.jpg", "image/jpeg"), product()).resource
    assert resource.content_hash == hashlib.md5(data).hexdigest()
    assert (resource.width, resource.height) == (700, 700)
    assert resource.color_profile == "sRGB"
    assert resource.dominant_color is None
    assert resource.sha256 is None
    healer = Healer(db, mstore)
    report = healer.heal(dry_run=False)
    assert report.checked == 1
    assert "dominant_color" in report.fixed[0]["fix"]
    healed = fast.get(resource.id)
    assert healed.dominant_color is not None
    assert healed.sha256 == hashlib.sha256(data).hexdigest()
    assert healer.heal(dry_run=False).fixed == []  # idempotent


def test_fast_path_still_refuses_bombs_and_spoofs(db: Database, mstore: ObjectStore) -> None:
    strict = MediaResourceService(
        db, mstore, UrlResolver(CDN), inline_enrichment=False, max_pixels=600 * 600
    )
    with pytest.raises(UnsupportedMediaError, match="pixel limit"):
        strict.ingest(upload(mstore, _big_jpeg(2), "b.jpg", "image/jpeg"), product())
    fake = b"<html>" + b"x" * (HEADER_BYTES + 10)
    with pytest.raises(UnsupportedMediaError):
        strict.ingest(upload(mstore, fake, "f.jpg", "image/jpeg"), product())
    assert list(mstore.list("media/")) == []


def test_fast_path_dedup_hit_is_confirmed_by_sha256(db: Database, mstore: ObjectStore) -> None:
    inline = MediaResourceService(db, mstore, UrlResolver(CDN))
    fast = MediaResourceService(db, mstore, UrlResolver(CDN), inline_enrichment=False)
    data = _big_jpeg(3)
    first = inline.ingest(upload(mstore, data, "a.jpg", "image/jpeg"), product())
    assert first.resource.sha256 is not None
    again = fast.ingest(upload(mstore, data, "b.jpg", "image/jpeg"), product())
    assert again.resource.id == first.resource.id


def test_md5_collision_is_not_deduplicated(db: Database) -> None:
    """Same content_hash, different bytes (as a collision pair would be): refused, not merged."""
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN))
    first = media.ingest(upload(store, image_bytes(seed=90)), product())
    with db.session() as session:
        from sartiq_storage.adapters.db.models import MediaResource

        row = session.get(MediaResource, first.resource.id)
        assert row is not None
        row.content_hash = hashlib.md5(image_bytes(seed=91)).hexdigest()  # force a "collision"
    with pytest.raises(ConflictError, match="collision"):
        media.ingest(upload(store, image_bytes(seed=91)), product())


@pytest.mark.parametrize("size", [0, 1, 1024 * 1024 * 3 + 5])
def test_stream_digests(tmp_path, size: int) -> None:  # type: ignore[no-untyped-def]
    store = LocalStore(tmp_path / "s")
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    store.put("k", data)
    digests = stream_digests(store, "k", "md5", "sha256")
    assert digests == {
        "md5": hashlib.md5(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
