"""Decompression bombs: small files that declare (or decode to) enormous images.

``python -m tests.hardening.bombs`` ingests each one through the media service in this
process and prints, as JSON, how long each refusal took and how much the process's peak
memory grew; ``test_image_bombs.py`` runs it in a fresh process and checks the figures.
"""

from __future__ import annotations

import json
import resource
import struct
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path

from sartiq_storage.testing.media import image_bytes


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declared(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header declares 10 gigapixels, with one row of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1))
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def png_flood(side: int = 12_000) -> bytes:
    """A complete, valid PNG of 144 megapixels of black that compresses to ~150 KB."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    packer = zlib.compressobj(9)
    row = b"\0" * (side + 1)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def jpeg_declared(width: int = 60_000, height: int = 60_000) -> bytes:
    data = bytearray(image_bytes("jpg", 16, 16, (10, 20, 30)))
    at = data.index(b"\xff\xc0")  # baseline SOF0: length, precision, height, width
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_declared(side: int = 65_535) -> bytes:
    data = bytearray(image_bytes("gif", 16, 16, (10, 20, 30)))
    data[6:10] = struct.pack("<HH", side, side)  # logical screen
    at = data.index(b"\x2c", 13)  # image descriptor: left, top, width, height
    data[at + 5 : at + 9] = struct.pack("<HH", side, side)
    return bytes(data)


def webp_declared(side: int = 16_383) -> bytes:
    data = bytearray(image_bytes("webp", 16, 16, (10, 20, 30)))
    at = data.index(b"\x9d\x01\x2a")  # VP8 key frame start code, then 14-bit sizes
    data[at + 3 : at + 7] = struct.pack("<HH", side, side)
    return bytes(data)


def tiff_declared(side: int = 100_000) -> bytes:
    """A little-endian TIFF with one strip of 16 bytes that declares side × side pixels."""
    entries = [
        (256, 4, 1, side),  # ImageWidth (LONG)
        (257, 4, 1, side),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: black is zero
        (273, 4, 1, 8 + 2 + 12 * 9 + 4),  # StripOffsets: right after the IFD
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, side),  # RowsPerStrip
        (279, 4, 1, 16),  # StripByteCounts
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHII", tag, kind, count, value)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\0" * 16


BOMBS: dict[str, Callable[[], bytes]] = {
    "png-declared-10-gigapixels": png_declared,
    "png-flood-144-megapixels": png_flood,
    "jpeg-declared-3.6-gigapixels": jpeg_declared,
    "gif-declared-4.3-gigapixels": gif_declared,
    "webp-declared-268-megapixels": webp_declared,
    "tiff-declared-10-gigapixels": tiff_declared,
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def main() -> None:
    from sartiq_storage.adapters.db.engine import Database
    from sartiq_storage.adapters.db.migrate import upgrade
    from sartiq_storage.adapters.stores import LocalStore
    from sartiq_storage.core.errors import UnsupportedMediaError
    from sartiq_storage.core.urls import UrlResolver
    from sartiq_storage.services.media.service import (
        AttachTo,
        MediaInput,
        MediaResourceService,
    )

    inline = "--deferred" not in sys.argv
    files = {name: make() for name, make in BOMBS.items()}
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(Path(tmp) / "store")
        db = Database.from_url(f"sqlite:///{Path(tmp) / 'db.sqlite'}")
        upgrade(db)
        media = MediaResourceService(
            db, store, UrlResolver("https://cdn.test"), inline_enrichment=inline
        )

        def ingest(data: bytes) -> None:
            key = f"temp/{uuid.uuid4().hex}_1706000000_x.bin"
            store.put(key, data)
            target = AttachTo("PRODUCT", uuid.uuid4(), "cover_image")
            media.ingest(MediaInput(url=f"https://cdn.test/{key}"), target)

        ingest(image_bytes("jpg", 64, 64, (1, 2, 3)))  # warm up: libraries loaded, caches made
        baseline = _peak_mb()
        report: dict[str, object] = {}
        for name, data in files.items():
            start = time.perf_counter()
            try:
                ingest(data)
                outcome = "ACCEPTED"
            except UnsupportedMediaError as exc:
                outcome = str(exc)
            report[name] = {
                "bytes": len(data),
                "seconds": round(time.perf_counter() - start, 4),
                "refusal": outcome,
            }
        db.dispose()
    print(
        json.dumps(
            {"inline": inline, "peak_growth_mb": round(_peak_mb() - baseline, 1), "bombs": report}
        )
    )


if __name__ == "__main__":
    main()
