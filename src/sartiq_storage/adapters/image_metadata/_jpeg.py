"""JPEG: segments kept only when a decoder needs them."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator

from sartiq_storage.adapters.image_metadata._common import Parts
from sartiq_storage.adapters.image_metadata._exif import exif_findings

_ENTROPY_END = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")
"""The next marker after entropy-coded data (0xFF00 is a stuffed byte, RSTn stay inside; a
fill 0xFF before a marker stays with the data). Fourteen times faster than ``\xff+…``."""


def _jpeg_blocks(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(marker, start, stop) of every segment; scan data belongs to its SOS; marker -1 is
    whatever follows EOI."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("no SOI")
    yield 0xD8, 0, 2
    position = 2
    while position < len(data):
        start = position
        while position < len(data) and data[position] == 0xFF:
            position += 1
        if position >= len(data) or position == start:
            raise ValueError(f"no marker at {start}")
        marker = data[position]
        position += 1
        if marker == 0xD9:
            yield marker, start, position
            if position < len(data):
                yield -1, position, len(data)
            return
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            yield marker, start, position
            continue
        (length,) = struct.unpack_from(">H", data, position)
        position += length
        if marker == 0xDA:
            found = _ENTROPY_END.search(data, position)
            position = found.start() if found else len(data)
        yield marker, start, min(position, len(data))


_JFIF_SIZE = 18
"""Marker, length and the JFIF header with no thumbnail (version, units, densities, 0 × 0)."""
_ADOBE_SIZE = 16
"""Marker, length and Adobe's APP14 (version, two flag words, the colour transform)."""


_JPEG_STRUCTURE = frozenset(
    {0xD8, 0xD9, 0xDA, 0xDB, 0xC4, 0xCC, *range(0xD0, 0xD8)}  # SOI EOI SOS DQT DHT DAC RSTn
    | {m for m in range(0xC0, 0xD0) if m not in (0xC4, 0xC8, 0xCC)}  # SOF0-15
)
"""Markers a decoder needs, each read by its own fixed layout (libjpeg refuses a SOF or SOS of
another length)."""
_JPEG_FIXED_SIZE = {0xDD: 6, 0xDC: 6}
"""DRI and DNL: marker, length and one word; any longer one carries something else."""


def _jpeg_keeps(marker: int, segment: bytes, size: int) -> bool:
    """Structural segments and the colour profile: everything a decoder needs; every other
    marker (APPn, COM, DNL with a payload, reserved and JPGn markers…) is a finding.

    JFIF and Adobe segments only at their exact header size: a JFIF thumbnail, or any bytes
    after either header, can carry anything, and no decoder needs them.
    """
    if marker == 0xE0:
        return segment[4:9] == b"JFIF\x00" and size == _JFIF_SIZE
    if marker == 0xE2:
        return segment[4:16] == b"ICC_PROFILE\x00"
    if marker == 0xEE:
        return segment[4:9] == b"Adobe" and size == _ADOBE_SIZE
    return marker in _JPEG_STRUCTURE or _JPEG_FIXED_SIZE.get(marker) == size


def jpeg(data: bytes) -> tuple[list[str], Parts]:
    findings: list[str] = []
    kept: Parts = []
    view = memoryview(data)
    scans = 0
    for marker, start, stop in _jpeg_blocks(data):
        segment = data[start : min(stop, start + 16)]  # enough to tell what it is
        if _jpeg_keeps(marker, segment, stop - start):
            kept.append(view[start:stop])
            scans += marker == 0xDA
            continue
        if marker == 0xE1 and segment[4:10] == b"Exif\x00\x00":
            inner = exif_findings(data[start + 10 : stop])
            findings += [f"JPEG EXIF: {f}" for f in inner]
            if scans:
                findings.append("JPEG EXIF after the image data")
        elif marker == -1:
            findings.append(f"JPEG: {stop - start} bytes after EOI")
        else:
            label = (
                "COM"
                if marker == 0xFE
                else f"APP{marker - 0xE0}"
                if 0xE0 <= marker <= 0xEF
                else f"marker {marker:#04x}"
            )
            findings.append(f"JPEG {label} segment {segment[4:16]!r}")
    return findings, kept
