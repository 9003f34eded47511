"""Verification's steps, one by one, with real codecs and no database."""

from __future__ import annotations

import hashlib
import struct
import zlib

import pytest
import pyvips

from sartiq_storage.adapters.media_probe import MediaMetadata, dominant_color
from sartiq_storage.adapters.stores import MemoryStore
from sartiq_storage.core.errors import (
    UnsupportedMediaError,
    UploadMissingError,
    UploadTooLargeError,
)
from sartiq_storage.core.sniff import JPEG, PNG
from sartiq_storage.services.media import verification
from sartiq_storage.services.media.model import MediaInput, MediaSettings
from sartiq_storage.services.media.verification import (
    clean,
    digests,
    header_metadata,
    needs_cleaning,
    probe_metadata,
    read_upload,
    verify,
    with_colour,
)
from sartiq_storage.testing.media import image_bytes, mp4_bytes
from tests.support.photos import damaged_pixels, phone_photo


def with_text_chunk(png: bytes, text: bytes = b"Comment\x00taken at home") -> bytes:
    """A PNG with a ``tEXt`` chunk after ``IHDR``: metadata libvips does not report."""
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + text))
    return png[:ihdr_end] + chunk + png[ihdr_end:]


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def test_read_upload_sniffs_the_bytes_not_the_claim(store: MemoryStore) -> None:
    data = image_bytes("png")
    store.put("temp/a.jpg", data, content_type="image/jpeg")
    upload = read_upload(store, "temp/a.jpg", max_file_size=len(data))
    assert upload.kind == PNG
    assert upload.data == data
    assert upload.info.size == len(data)


def test_read_upload_refuses_missing_oversized_empty_and_unknown(store: MemoryStore) -> None:
    with pytest.raises(UploadMissingError, match="does not exist"):
        read_upload(store, "temp/gone.png", max_file_size=100)
    store.put("temp/big.png", image_bytes("png"))
    with pytest.raises(UploadTooLargeError, match="over the 10 byte limit"):
        read_upload(store, "temp/big.png", max_file_size=10)
    store.put("temp/empty.png", b"")
    with pytest.raises(UnsupportedMediaError, match="is empty"):
        read_upload(store, "temp/empty.png", max_file_size=100)
    store.put("temp/page.png", b"<html>" * 100)
    with pytest.raises(UnsupportedMediaError, match="not an accepted image or video"):
        read_upload(store, "temp/page.png", max_file_size=10_000)


def test_read_upload_past_the_one_buffer_limit_reads_an_image_whole(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sniffed from its first chunks, an accepted upload is then read to its end."""
    monkeypatch.setattr(verification, "_READ_AT_ONCE", 1)
    data = image_bytes("jpg", 900, 700, seed=3)
    store.put("temp/big.jpg", data)
    upload = read_upload(store, "temp/big.jpg", max_file_size=len(data))
    assert (upload.kind, upload.data) == (JPEG, data)
    store.put("temp/page.jpg", b"<html>" * 100_000)
    with pytest.raises(UnsupportedMediaError, match="not an accepted"):
        read_upload(store, "temp/page.jpg", max_file_size=10**7)


def test_header_metadata_reads_dimensions_without_decoding() -> None:
    data = image_bytes("png", 120, 80)
    metadata = header_metadata("k", data, PNG, max_pixels=10_000)
    assert metadata is not None
    assert (metadata.width, metadata.height) == (120, 80)
    assert metadata.dominant_color is None  # no pixel decoded
    assert header_metadata("k", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, PNG, max_pixels=10) is None


def test_header_metadata_refuses_a_decompression_bomb() -> None:
    data = image_bytes("png", 120, 80)
    with pytest.raises(UnsupportedMediaError, match="k:"):
        header_metadata("k", data, PNG, max_pixels=120 * 80 - 1)


def test_probe_metadata_decodes_for_the_colour_and_refuses_what_it_cannot_read() -> None:
    metadata = probe_metadata("k", image_bytes("png", 32, 16, (200, 100, 50)), PNG, 10_000)
    assert (metadata.width, metadata.height) == (32, 16)
    assert metadata.dominant_color is not None
    with pytest.raises(UnsupportedMediaError, match="k:"):
        probe_metadata("k", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, PNG, 10_000)


def test_needs_cleaning_finds_exif_and_png_text_chunks() -> None:
    plain = image_bytes("png")
    assert not needs_cleaning(plain, PNG, probe_metadata("k", plain, PNG, 10_000))
    texted = with_text_chunk(plain)
    assert needs_cleaning(texted, PNG, probe_metadata("k", texted, PNG, 10_000))
    photo = phone_photo(".jpg")
    metadata = probe_metadata("k", photo, JPEG, 10_000)
    assert metadata.needs_rewrite
    assert needs_cleaning(photo, JPEG, metadata)


def test_clean_strips_a_png_text_chunk_keeping_the_pixels() -> None:
    texted = with_text_chunk(image_bytes("png", 20, 10))
    settings = MediaSettings()
    metadata = probe_metadata("k", texted, PNG, 10**6)
    cleaned, kind, metadata = clean("k", texted, PNG, metadata, settings)
    assert kind == PNG
    assert b"taken at home" not in cleaned
    assert (metadata.width, metadata.height) == (20, 10)
    assert not needs_cleaning(cleaned, kind, metadata)


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "deferred"])
def test_clean_turns_a_phone_photo_upright_without_its_location(inline: bool) -> None:
    photo = phone_photo(".jpg")
    settings = MediaSettings(inline_enrichment=inline)
    cleaned, kind, metadata = clean(
        "k", photo, JPEG, header_metadata("k", photo, JPEG, 10**6) or MediaMetadata(), settings
    )
    assert kind == JPEG
    assert (metadata.width, metadata.height) == (40, 80)  # rotated: upright
    assert not metadata.has_location
    assert metadata.dominant_color is None  # the header only: verify decodes the colour once
    fields = pyvips.Image.new_from_buffer(cleaned, "").get_fields()
    assert not [f for f in fields if "GPS" in f]


def test_digests_are_md5_and_sha256() -> None:
    data = b"some bytes"
    assert digests(data) == (hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest())


def test_verify_inline_hashes_and_keeps_clean_bytes_as_uploaded(store: MemoryStore) -> None:
    data = image_bytes("png", 30, 20)
    store.put("temp/a.png", data)
    verified = verify(store, "temp/a.png", MediaSettings())
    assert (verified.key, verified.size, verified.kind) == ("temp/a.png", len(data), PNG)
    assert (verified.md5, verified.sha256) == digests(data)
    assert verified.payload is None  # stored by server-side copy
    assert verified.source is not None
    assert verified.source.size == len(data)
    assert verified.metadata.dominant_color is not None


def test_verify_deferred_trusts_a_plain_md5_etag_and_skips_sha256(store: MemoryStore) -> None:
    data = image_bytes("png", 30, 20)
    store.put("temp/a.png", data)
    verified = verify(store, "temp/a.png", MediaSettings(inline_enrichment=False))
    assert verified.md5 == hashlib.md5(data).hexdigest()
    assert verified.sha256 is None  # left to heal
    assert verified.metadata.dominant_color is None
    assert (verified.metadata.width, verified.metadata.height) == (30, 20)


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "deferred"])
def test_verify_hashes_the_cleaned_bytes(store: MemoryStore, inline: bool) -> None:
    store.put("temp/p.jpg", phone_photo(".jpg"))
    verified = verify(store, "temp/p.jpg", MediaSettings(inline_enrichment=inline))
    assert verified.payload is not None
    assert (verified.md5, verified.sha256) == digests(verified.payload)
    assert verified.size == len(verified.payload)
    assert (verified.metadata.width, verified.metadata.height) == (40, 80)
    # The colour is the stored bytes' (decoded once, from the rewrite), or heal's to find.
    expected = dominant_color(verified.payload) if inline else None
    assert verified.metadata.dominant_color == expected


def test_a_colour_left_decoding_is_settled_by_with_colour(store: MemoryStore) -> None:
    data = image_bytes("jpg", 64, 64, (10, 120, 230))
    store.put("temp/a.jpg", data)
    pending = verify(store, "temp/a.jpg", MediaSettings(), colour_later=True)
    assert pending.colour is not None
    settled = with_colour(pending)
    assert settled.colour is None
    assert settled.metadata.dominant_color == dominant_color(data)
    assert settled.metadata == verify(store, "temp/a.jpg", MediaSettings()).metadata
    store.put("temp/b.jpg", damaged_pixels(image_bytes("jpg", 256, 256, seed=3)))
    broken = verify(store, "temp/b.jpg", MediaSettings(), colour_later=True)
    with pytest.raises(UnsupportedMediaError, match="damaged"):
        with_colour(broken)
    with pytest.raises(UnsupportedMediaError, match="damaged"):
        verify(store, "temp/b.jpg", MediaSettings())


def test_verify_probes_a_video_whole_and_reads_the_settings_at_each_call(
    store: MemoryStore,
) -> None:
    data = mp4_bytes()
    store.put("temp/v.mp4", data)
    settings = MediaSettings(inline_enrichment=False)
    verified = verify(store, "temp/v.mp4", settings, MediaInput(url="u", width=1, height=1))
    assert verified.kind.resource_type == "VIDEO"
    assert verified.sha256 == hashlib.sha256(data).hexdigest()  # read whole: hashed
    assert (verified.metadata.width, verified.metadata.height) == (64, 48)  # not the hints
    settings.max_file_size = len(data) - 1  # an image's limit: a video has its own
    assert verify(store, "temp/v.mp4", settings).size == len(data)
    settings.max_video_size = len(data) - 1
    with pytest.raises(UploadTooLargeError):
        verify(store, "temp/v.mp4", settings)
