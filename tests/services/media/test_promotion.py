"""Dedup and promotion with a real store and no database (the MD5 lookup is given)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sartiq_storage.adapters.stores import MemoryStore, PutResult
from sartiq_storage.core.errors import ConflictError
from sartiq_storage.core.keys import MediaKey
from sartiq_storage.services.media.model import IMMUTABLE, AttachTo, MediaSettings
from sartiq_storage.services.media.promotion import Known, match, promote, sha256_of
from sartiq_storage.services.media.verification import Verified, digests, verify
from sartiq_storage.testing.media import image_bytes
from tests.support.photos import phone_photo

TARGET = AttachTo("PRODUCT", uuid.uuid4(), "cover_image")


def verified_upload(store: MemoryStore, data: bytes, *, inline: bool = True) -> Verified:
    key = f"temp/{uuid.uuid4().hex}.bin"
    store.put(key, data)
    return verify(store, key, MediaSettings(inline_enrichment=inline))


def test_a_miss_is_copied_to_its_canonical_key() -> None:
    store = MemoryStore()
    data = image_bytes("png", seed=1)
    verified = verified_upload(store, data)
    prepared = match(store, verified, TARGET, [])
    assert prepared.canonical == MediaKey(prepared.resource_id, "png").key
    assert (prepared.collision_rank, prepared.sha256_fills) == (0, ())
    assert store.get_bytes(prepared.canonical) == data
    info = store.head(prepared.canonical)
    assert (info.content_type, info.cache_control) == ("image/png", IMMUTABLE)
    assert store.head(verified.key).size == len(data)  # the source stays for the outbox


def test_cleaned_bytes_are_written_not_copied() -> None:
    store = MemoryStore()
    verified = verified_upload(store, phone_photo(".jpg"))
    assert verified.payload is not None
    canonical = promote(store, verified, uuid.uuid4())
    assert store.get_bytes(canonical) == verified.payload


def test_a_hit_needs_sha256_on_both_sides_and_fills_the_missing_one() -> None:
    store = MemoryStore()
    data = image_bytes("png", seed=2)
    store.put("media/existing.png", data)
    existing = Known(uuid.uuid4(), "media/existing.png", None, 0)
    verified = verified_upload(store, data, inline=False)
    assert verified.sha256 is None  # deferred: computed now that a candidate exists
    prepared = match(store, verified, TARGET, [existing])
    _, sha = digests(data)
    assert prepared.canonical is None  # a hit: nothing copied
    assert prepared.verified.sha256 == sha
    assert prepared.sha256_fills == ((existing.resource_id, sha),)
    assert [o.key for o in store.list("media/")] == ["media/existing.png"]


def test_different_bytes_behind_the_same_md5_get_the_next_rank() -> None:
    store = MemoryStore()
    verified = verified_upload(store, image_bytes("png", seed=3))
    other = Known(uuid.uuid4(), "media/other.png", "0" * 64, 4)  # same MD5, other SHA-256
    prepared = match(store, verified, TARGET, [other])
    assert prepared.canonical is not None
    assert prepared.collision_rank == 5


def test_a_rematch_keeps_the_copy_made_before() -> None:
    store = MemoryStore()
    verified = verified_upload(store, image_bytes("png", seed=4))
    first = match(store, verified, TARGET, [])
    again = match(store, verified, TARGET, [], promoted=first)
    assert (again.canonical, again.resource_id) == (first.canonical, first.resource_id)
    assert len(list(store.list("media/"))) == 1


def test_sha256_of_streams_the_object() -> None:
    store = MemoryStore()
    data = image_bytes("png", seed=5)
    store.put("media/x.png", data)
    assert sha256_of(store, "media/x.png") == digests(data)[1]


class _ShortWrites(MemoryStore):
    """A store that stores fewer bytes than it was given (a truncating proxy)."""

    def put(self, key: str, body: Any, **kw: Any) -> PutResult:
        return super().put(key, bytes(body)[:-1], **kw)


def test_a_write_that_does_not_hold_the_verified_bytes_is_removed() -> None:
    store = _ShortWrites()
    store.put("temp/p.jpg", phone_photo(".jpg") + b"\0")  # stored whole, less the padding
    verified = verify(store, "temp/p.jpg", MediaSettings())
    assert verified.payload is not None
    with pytest.raises(ConflictError, match="does not hold the verified bytes"):
        promote(store, verified, uuid.uuid4())
    assert not list(store.list("media/"))
