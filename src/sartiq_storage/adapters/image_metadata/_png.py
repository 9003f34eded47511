"""PNG: chunks for pixels, colour and animation; every other ancillary chunk goes."""

from __future__ import annotations

from sartiq_storage.adapters.image_metadata._common import Parts
from sartiq_storage.adapters.image_metadata._exif import exif_findings

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEEP = frozenset(
    b"IHDR PLTE IDAT IEND tRNS cHRM gAMA iCCP sBIT sRGB cICP mDCV cLLI mDCv cLLi bKGD hIST "
    b"pHYs sPLT acTL fcTL fdAT".split()
)
"""Chunks for pixels, colour (profile included) and animation; every other ancillary chunk
(text, XMP, time, private ones) goes."""


def png(data: bytes) -> tuple[list[str], Parts]:
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("no PNG signature")
    findings: list[str] = []
    kept: Parts = [_PNG_SIGNATURE]
    view = memoryview(data)
    position = len(_PNG_SIGNATURE)
    while position < len(data):
        if position + 12 > len(data):
            findings.append(f"PNG: {len(data) - position} stray bytes at the end")
            break
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        stop = position + 12 + length
        if stop > len(data):
            findings.append(f"PNG {kind.decode('latin-1')!r} chunk cut short")
        elif kind == b"eXIf":
            findings += [f"PNG eXIf: {f}" for f in exif_findings(data[position + 8 : stop - 4])]
        elif kind not in _PNG_KEEP and not kind[:1].isupper():
            findings.append(f"PNG {kind.decode('latin-1')!r} chunk")
        else:
            kept.append(view[position:stop])
        position = stop
        if kind == b"IEND":
            if position < len(data):
                findings.append(f"PNG: {len(data) - position} bytes after IEND")
            break
    return findings, kept
