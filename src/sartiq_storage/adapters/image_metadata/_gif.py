"""GIF: images, graphic control, looping and profile extensions; comments and others go."""

from __future__ import annotations

from sartiq_storage.adapters.image_metadata._common import Parts

_GIF_APPS_KEPT = (b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012")
"""Application extensions for looping and the colour profile; others (XMP…) go."""


def _gif_sub_blocks(data: bytes, position: int) -> int:
    """The position after a chain of data sub-blocks (ended by a zero-length block)."""
    while True:
        size = data[position]
        position += 1 + size
        if size == 0:
            return position


def _gif_canonical(data: bytes, start: int, label: int) -> bytes | None:
    """The bytes a graphic control or looping extension has by its specification (one
    sub-block of fixed size, then the terminator), or None for any other extension."""
    if label == 0xF9 and data[start + 2] == 4:
        return data[start : start + 7] + b"\x00"
    looping = data[start + 3 : start + 14] in _GIF_APPS_KEPT[:2]
    if label == 0xFF and looping and data[start + 14] == 3:
        return data[start : start + 18] + b"\x00"
    return None


def gif(data: bytes) -> tuple[list[str], Parts]:
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError("no GIF header")
    flags = data[10]
    position = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    findings: list[str] = []
    view = memoryview(data)
    kept: Parts = [view[:position]]
    while True:
        introducer = data[position]
        if introducer == 0x3B:
            kept.append(b";")
            if position + 1 < len(data):
                findings.append(f"GIF: {len(data) - position - 1} bytes after the trailer")
            break
        start = position
        if introducer == 0x2C:
            local = data[position + 9]
            position += 10 + (3 * 2 ** ((local & 7) + 1) if local & 0x80 else 0)
            position = _gif_sub_blocks(data, position + 1)  # after the LZW code size
            kept.append(view[start:position])
            continue
        if introducer != 0x21:
            raise ValueError(f"unknown GIF block {introducer:#x}")
        label = data[position + 1]
        position = _gif_sub_blocks(data, position + 2)
        block = data[start : min(position, start + 14)]
        canonical = _gif_canonical(data, start, label)
        if canonical is not None:
            if position - start == len(canonical):
                kept.append(view[start:position])
            else:  # more sub-blocks than the extension has: they can carry anything
                findings.append(f"GIF extension {label:#04x} with extra sub-blocks")
                kept.append(canonical)
        elif label == 0xFF and block[3:14] == b"ICCRGBG1012":
            kept.append(view[start:position])  # the colour profile, over its sub-blocks
        else:
            what = {0xFE: "comment", 0x01: "plain text", 0xFF: "application"}.get(label, "unknown")
            findings.append(f"GIF {what} extension {block[3:14]!r}")
    return findings, kept
