"""No location or personal metadata survives ingest, in any accepted format, wherever it hides.

The matrix (``hiding_places.py``) puts :data:`SECRET` in every place each format can carry
metadata, including those libvips never reports (a TIFF's GPS IFD, GIF extensions, JPEG
segments after the scan, bytes after a file's end). The stored bytes themselves are checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import struct
import uuid

import pytest
import pyvips

from sartiq_storage.adapters import image_metadata
from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.media_probe import MediaProbeError
from sartiq_storage.adapters.stores import MemoryStore
from sartiq_storage.core.sniff import sniff
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.service import MediaResourceService
from tests.support.hiding_places import CASES, CLEAN, ICC, SECRET, Case, saved
from tests.support.media_service import CDN, product, upload

_PERSONAL_FIELDS = ("exif-", "xmp-data", "iptc-data", "gif-comment", "png-comment")


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "deferred"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_no_metadata_survives(db: Database, case: Case, inline: bool) -> None:
    original = case.build()
    before = pyvips.Image.new_from_buffer(original, "")
    xmp = before.get("xmp-data") if "xmp-data" in before.get_fields() else b""
    assert SECRET in original or SECRET in xmp  # the fixture does hide it (PNG compresses)
    assert sniff(original[:64]) is not None
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN), inline_enrichment=inline)
    result = media.ingest(upload(store, original, f"p.{case.extension}"), product())
    stored = store.get_bytes(result.resource.storage_key)

    assert SECRET not in stored
    assert b"GPS" not in stored
    image = pyvips.Image.new_from_buffer(stored, "")
    personal = [f for f in image.get_fields() if f.startswith(_PERSONAL_FIELDS)]
    harmless = [f for f in personal if f.startswith(("exif-data", "exif-ifd0-", "exif-ifd2-"))]
    assert not set(personal) - set(harmless), personal
    assert "orientation" not in image.get_fields() or image.get("orientation") == 1
    assert (image.width, image.height) == case.upright
    assert (result.resource.width, result.resource.height) == case.upright
    if case.icc:
        assert image.get("icc-profile-data") == ICC  # the colour profile stays
    left, right = image.crop(0, 0, 8, 8), image.crop(image.width - 8, image.height - 8, 8, 8)
    if case.upright == (32, 16):  # red on the left, blue on the right
        assert left[0].avg() > 150 > left[2].avg()
        assert right[2].avg() > 150 > right[0].avg()
    else:  # orientation 6: turned clockwise, red on top
        assert left[0].avg() > 150 > left[2].avg()
    if image_metadata.STRIPPABLE.intersection({case.extension}):
        # Stripped at the byte level: the very same encoded pixels, no re-encode.
        assert image.write_to_memory() == before.write_to_memory()
    assert result.resource.content_hash == hashlib.md5(stored).hexdigest()
    assert result.resource.file_size == len(stored)
    assert image_metadata.findings(stored, result.resource.extension) == []
    again = media.ingest(upload(store, original, f"q.{case.extension}"), product())
    assert again.resource.id == result.resource.id  # the cleaning is deterministic


@pytest.mark.parametrize("extension", sorted(CLEAN))
def test_nothing_to_hide_is_stored_byte_for_byte(db: Database, extension: str) -> None:
    """libvips' own EXIF (resolution, colour space, orientation 1) and the colour profile
    are harmless: such an image is copied as uploaded, not rewritten."""
    original = CLEAN[extension]()
    assert image_metadata.findings(original, extension) == []
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN))
    result = media.ingest(upload(store, original, f"p.{extension}"), product())
    assert store.get_bytes(result.resource.storage_key) == original


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_scan_names_what_it_found(case: Case) -> None:
    found = image_metadata.findings(case.build(), case.extension)
    assert found, case.name


def test_a_structure_that_cannot_be_walked_is_cleaned_not_trusted() -> None:
    broken = CLEAN["png"]()[:-20]  # cut inside the image data
    assert image_metadata.findings(broken, "png")
    assert image_metadata.findings(b"II*\x00\xff\xff\xff\x7f", "tiff")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_damaged_and_hostile_structures_never_crash_the_walk(case: Case) -> None:
    """Flipped bytes, cuts and self-pointing offsets: a list of findings (or a clean refusal
    when stripping), never another exception, never a hang."""
    original = case.build()
    rng = random.Random(case.name)
    for _ in range(60):
        data = bytearray(original)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            del data[rng.randrange(len(data)) :]
        mutated = bytes(data)
        assert isinstance(image_metadata.findings(mutated, case.extension), list)
        if case.extension in image_metadata.STRIPPABLE:
            with contextlib.suppress(MediaProbeError):
                image_metadata.strip(mutated, case.extension)


def test_an_exif_ifd_pointing_at_itself_is_a_finding() -> None:
    ifd = struct.pack("<H", 1) + struct.pack("<HHII", 0x8769, 4, 1, 8) + struct.pack("<I", 0)
    assert image_metadata.exif_findings(b"II*\x00" + struct.pack("<I", 8) + ifd)


def test_a_canonical_key_registered_in_place_is_cleaned_in_place(db: Database) -> None:
    """``relocate=false`` keeps the key: the cleaned bytes replace the object, so the row's
    MD5 and size are those of what is served."""
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN))
    key = f"media/{uuid.uuid4()}/file.jpg"
    store.put(key, saved(".jpg", gps=True), content_type="image/jpeg")
    resource = media.ingest_from_storage_key(key, relocate=False).resource
    stored = store.get_bytes(key)
    assert SECRET not in stored
    assert image_metadata.findings(stored, "jpg") == []
    assert resource.content_hash == hashlib.md5(stored).hexdigest()
    assert resource.file_size == len(stored)
