"""WebP: RIFF chunks for pixels, alpha, animation and colour; EXIF, XMP and unknown chunks go."""

from __future__ import annotations

from sartiq_storage.adapters.image_metadata._common import Parts
from sartiq_storage.adapters.image_metadata._exif import exif_findings

_WEBP_KEEP = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def webp(data: bytes) -> tuple[list[str], Parts]:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("no RIFF WEBP header")
    end = min(8 + int.from_bytes(data[4:8], "little"), len(data))
    findings: list[str] = []
    if end < len(data):
        findings.append(f"WebP: {len(data) - end} bytes after the RIFF data")
    chunks: Parts = []
    view = memoryview(data)
    position = 12
    while position + 8 <= end:
        kind = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        stop = min(position + 8 + size + (size & 1), end)
        if kind == b"EXIF":
            findings += [f"WebP EXIF: {f}" for f in exif_findings(data[position + 8 : stop])]
        elif kind not in _WEBP_KEEP:
            findings.append(f"WebP {kind.decode('latin-1')!r} chunk")
        elif kind == b"ANMF":
            frame = _frame(data, position + 8, stop, findings)
            size = sum(len(part) for part in frame)
            chunks += [b"ANMF", size.to_bytes(4, "little"), *frame]
        elif kind == b"VP8X" and stop - position > 8:  # no longer says EXIF or XMP follow
            flags = data[position + 8] & ~(_VP8X_EXIF | _VP8X_XMP)
            chunks.append(
                data[position : position + 8] + bytes([flags]) + data[position + 9 : stop]
            )
        else:
            chunks.append(view[position:stop])
        position = stop
    if position < end:
        findings.append(f"WebP: {end - position} stray bytes")
    size = 4 + sum(len(chunk) for chunk in chunks)
    return findings, [b"RIFF", size.to_bytes(4, "little"), b"WEBP", *chunks]


_FRAME_KEEP = frozenset({b"ALPH", b"VP8 ", b"VP8L"})
_FRAME_HEADER = 16
"""An ANMF frame's position, size, duration and flags, before its sub-chunks."""


def _frame(data: bytes, start: int, stop: int, findings: list[str]) -> Parts:
    """An animation frame's payload with only its alpha and bitstream sub-chunks: the format
    lets a frame carry unknown chunks too, and those can hold anything."""
    if stop - start < _FRAME_HEADER:
        raise ValueError("ANMF frame cut short")
    view = memoryview(data)
    kept: Parts = [view[start : start + _FRAME_HEADER]]
    position = start + _FRAME_HEADER
    while position + 8 <= stop:
        kind = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        end = min(position + 8 + size + (size & 1), stop)
        if kind in _FRAME_KEEP:
            kept.append(view[position:end])
        else:
            findings.append(f"WebP {kind.decode('latin-1')!r} chunk inside an animation frame")
        position = end
    if position < stop:
        findings.append(f"WebP: {stop - position} stray bytes inside an animation frame")
    return kept
