"""A photo is stored upright and without its location; the hash covers the stored bytes."""

from __future__ import annotations

import hashlib

import pytest
import pyvips

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.stores import MemoryStore
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.service import MediaResourceService
from tests.support.media_service import CDN, product, upload
from tests.support.photos import phone_photo


def fields(data: bytes) -> list[str]:
    return list(pyvips.Image.new_from_buffer(data, "").get_fields())


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "deferred"])
@pytest.mark.parametrize("fmt", [".jpg", ".webp", ".png"])
def test_stored_upright_without_location(db: Database, inline: bool, fmt: str) -> None:
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN), inline_enrichment=inline)
    original = phone_photo(fmt)
    assert any("GPS" in f for f in fields(original))  # the fixture does carry a location
    result = media.ingest(upload(store, original, f"p{fmt}", "image/jpeg"), product())
    stored = store.get_bytes(result.resource.storage_key)
    assert not [f for f in fields(stored) if "GPS" in f or f.startswith("exif-")]
    image = pyvips.Image.new_from_buffer(stored, "")
    assert (image.width, image.height) == (40, 80)  # rotated 90° clockwise: upright
    assert "orientation" not in image.get_fields() or image.get("orientation") == 1
    top, bottom = image.crop(0, 0, 40, 40), image.crop(0, 40, 40, 40)
    assert top[0].avg() > 150 > top[2].avg()  # orientation 6: the red left half is on top
    assert bottom[2].avg() > 150 > bottom[0].avg()
    assert (result.resource.width, result.resource.height) == (40, 80)
    # The platform's content_hash is the MD5 of the bytes stored and served.
    assert result.resource.content_hash == hashlib.md5(stored).hexdigest()
    assert result.resource.file_size == len(stored)
    # The same photo uploaded again is the same resource (the rewrite is deterministic).
    again = media.ingest(upload(store, original, f"q{fmt}", "image/jpeg"), product())
    assert again.resource.id == result.resource.id


def test_a_plain_photo_is_stored_byte_for_byte(db: Database) -> None:
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN))
    original = phone_photo(orientation=1, gps=False)
    result = media.ingest(upload(store, original), product())
    assert store.get_bytes(result.resource.storage_key) == original
    assert result.resource.content_hash == hashlib.md5(original).hexdigest()


def test_a_location_alone_is_removed_without_turning_the_image(db: Database) -> None:
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN))
    result = media.ingest(upload(store, phone_photo(orientation=1)), product())
    stored = store.get_bytes(result.resource.storage_key)
    assert not [f for f in fields(stored) if "GPS" in f]
    assert pyvips.Image.new_from_buffer(stored, "").width == 80


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], 8
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        chunks.append((data[position + 4 : position + 8], data[position : position + 12 + length]))
        position += 12 + length
    return chunks


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "deferred"])
def test_a_png_location_after_the_pixels_is_removed_too(db: Database, inline: bool) -> None:
    """libvips reads PNG metadata only up to the image data: an ``eXIf`` chunk moved after
    ``IDAT`` (as some encoders and any attacker can) was stored and served as uploaded."""
    chunks = _png_chunks(phone_photo(".png", orientation=1))
    exif = [chunk for kind, chunk in chunks if kind == b"eXIf"]
    assert exif  # the fixture's location, in an eXIf chunk before the pixels
    body = [chunk for kind, chunk in chunks if kind not in (b"eXIf", b"IEND")]
    iend = [chunk for kind, chunk in chunks if kind == b"IEND"]
    moved = b"\x89PNG\r\n\x1a\n" + b"".join(body + exif + iend)
    assert not [f for f in fields(moved) if "GPS" in f]  # libvips does not see it
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN), inline_enrichment=inline)
    result = media.ingest(upload(store, moved), product())
    stored = store.get_bytes(result.resource.storage_key)
    assert b"eXIf" not in [kind for kind, _ in _png_chunks(stored)]
    assert b"GPS" not in stored
    assert result.resource.content_hash == hashlib.md5(stored).hexdigest()
    assert pyvips.Image.new_from_buffer(stored, "").width == 80
