"""Where metadata hides in each accepted image format, found and removed at the byte level.

Privacy must not depend on what one decoder chooses to show: libvips reads a PNG's metadata
only up to the pixels, never surfaces a TIFF's GPS IFD, and ignores GIF comments, JPEG
segments after the first scan and anything after a file's end. So each container is walked
here from its own structure, every block accounted for, and anything that is not pixels, a
colour profile, a structural block or provably harmless EXIF is a *finding*:

* JPEG: APPn segments other than JFIF, ICC and Adobe (EXIF is harmless only when every tag is
  in :data:`_HARMLESS_EXIF`), COM, segments between scans, bytes after EOI;
* PNG: ``eXIf`` (same rule), text (``tEXt``, ``zTXt``, ``iTXt``: XMP lives there), ``tIME``,
  any private ancillary chunk, before or after the image data, bytes after ``IEND``;
* WebP: ``EXIF`` (same rule), ``XMP``, unknown chunks, bytes past the RIFF size;
* GIF: comment and plain-text extensions, application extensions other than the loop and ICC
  ones (XMP ``XMP DataXMP``…), bytes after the trailer;
* TIFF: any tag outside :data:`_TIFF_TAGS` in any IFD (GPS IFD 34853, EXIF IFD with anything
  but harmless tags, XMP 700, IPTC 33723, Photoshop 34377, descriptions, camera…), sub-IFDs,
  and bytes no tag refers to;
* HEIF/AVIF: ``Exif``, ``mime`` (XMP) and ``uri`` items, XML boxes, top-level boxes other than
  the image's own, bytes past the last box.

:func:`strip` removes the findings of JPEG, PNG, WebP and GIF without decoding a pixel (the
image data is copied as it is); TIFF and HEIF/AVIF are re-encoded instead (:func:`clean`).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator

from sartiq_storage.adapters.media_probe import MediaProbeError, rewrite_image
from sartiq_storage.core.sniff import SNIFF_BYTES, sniff

STRIPPABLE = frozenset({"jpg", "png", "webp", "gif"})
"""Formats whose metadata :func:`strip` removes without re-encoding."""

# -- EXIF / TIFF structure -------------------------------------------------------------------

_EXIF_IFD, _GPS_IFD, _INTEROP_IFD, _SUB_IFDS = 0x8769, 0x8825, 0xA005, 0x014A
_SHORT, _LONG, _RATIONAL, _ASCII, _UNDEFINED, _IFD = 3, 4, 5, 2, 7, 13
_HARMLESS_SHAPES: dict[int, tuple[frozenset[int], int]] = {
    0x0112: (frozenset({_SHORT}), 1),  # Orientation (value 1 only, checked below)
    0x011A: (frozenset({_RATIONAL}), 1),  # XResolution
    0x011B: (frozenset({_RATIONAL}), 1),  # YResolution
    0x0128: (frozenset({_SHORT}), 1),  # ResolutionUnit
    0x0213: (frozenset({_SHORT}), 1),  # YCbCrPositioning
    _EXIF_IFD: (frozenset({_LONG, _IFD}), 1),
    _INTEROP_IFD: (frozenset({_LONG, _IFD}), 1),
    0x9000: (frozenset({_UNDEFINED}), 4),  # ExifVersion
    0x9101: (frozenset({_UNDEFINED}), 4),  # ComponentsConfiguration
    0xA000: (frozenset({_UNDEFINED}), 4),  # FlashpixVersion
    0xA001: (frozenset({_SHORT}), 1),  # ColorSpace
    0xA002: (frozenset({_SHORT, _LONG}), 1),  # PixelXDimension
    0xA003: (frozenset({_SHORT, _LONG}), 1),  # PixelYDimension
    0x0001: (frozenset({_ASCII}), 4),  # InteroperabilityIndex
    0x0002: (frozenset({_UNDEFINED}), 4),  # InteroperabilityVersion
}
"""EXIF tags that say how to show the pixels and nothing about who, where or with what (what
libvips itself writes), each with the type and count the EXIF and TIFF specifications give
it: a tag is harmless for what it holds, not for its number, and any other shape can carry
anything. EXIF with any other tag (GPS, dates, camera, owner, serial numbers, comments, maker
notes, a thumbnail) is a finding."""
_HARMLESS_EXIF = frozenset(_HARMLESS_SHAPES)
_TIFF_TAGS = _HARMLESS_EXIF | frozenset(
    {
        254, 255, 256, 257, 258, 259, 262, 263, 264, 265, 266, 273, 274, 277, 278, 279, 280,
        281, 282, 283, 284, 290, 291, 292, 293, 296, 297, 317, 318, 319, 320, 321, 322, 323,
        324, 325, 332, 338, 339, 340, 341, 347, 512, 513, 514, 515, 517, 518, 519, 520, 521,
        529, 530, 531, 532, 34675,  # ICC profile
    }
)  # fmt: skip
"""Tags a TIFF needs to be decoded and shown (baseline and extension tags for pixels,
strips, tiles, compression, colour, ICC); any other is a finding."""
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_MAX_IFDS = 1024
_MAX_VALUES = 1_000_000
"""Strips or tiles of one image (a 100-megapixel image has about 10,000 rows)."""
_SLACK = 3
"""Bytes between two referenced blocks that alignment explains (TIFF words are 2 bytes)."""


class _Tiff:
    """Walks the IFDs of a TIFF structure (a TIFF file, or the TIFF inside an EXIF block)."""

    def __init__(self, data: bytes, *, allowed: frozenset[int], file: bool) -> None:
        self.data, self.allowed, self.file = data, allowed, file
        self.findings: list[str] = []
        self.covered: list[tuple[int, int]] = [(0, 8)]
        self.seen: set[int] = set()
        order = data[:2]
        if order not in (b"II", b"MM") or len(data) < 8:
            raise ValueError("not a TIFF structure")
        self.end = "<" if order == b"II" else ">"

    def _u(self, fmt: str, offset: int) -> tuple[int, ...]:
        return struct.unpack_from(self.end + fmt, self.data, offset)

    def walk(self) -> list[str]:
        (first,) = self._u("I", 4)
        offset, index = first, 0
        while offset and index < _MAX_IFDS:
            following = self._ifd(offset, f"IFD{index}", self.allowed)
            if index == 1 and not self.file:
                self.findings.append("EXIF thumbnail (IFD1)")
            offset, index = following, index + 1
        self._gaps()
        return self.findings

    def _ifd(self, offset: int, name: str, allowed: frozenset[int]) -> int:
        if offset in self.seen or len(self.seen) >= _MAX_IFDS:
            raise ValueError("IFD loop")
        self.seen.add(offset)
        (count,) = self._u("H", offset)
        self.covered.append((offset, offset + 2 + 12 * count + 4))
        strips: dict[int, list[int]] = {}
        for i in range(count):
            entry = offset + 2 + 12 * i
            tag, kind, n = self._u("HHI", entry)
            size = _TYPE_SIZES.get(kind, 1) * n
            where = entry + 8 if size <= 4 else self._u("I", entry + 8)[0]
            if where + size > len(self.data):
                raise ValueError(f"tag {tag} runs past the end")
            if size > 4:
                self.covered.append((where, where + size))
            shape = _HARMLESS_SHAPES.get(tag)
            if tag not in allowed:
                self.findings.append(f"{name} tag {tag}")
            elif shape is not None and (kind not in shape[0] or n != shape[1]):
                self.findings.append(f"{name} tag {tag} of type {kind} × {n}")
            elif tag == 0x0112 and self._values(kind, n, where) != [1] and not self.file:
                self.findings.append(f"{name} orientation other than 1")
            if tag in (_EXIF_IFD, _INTEROP_IFD) and tag in allowed:
                (sub,) = self._values(kind, 1, where)
                self._ifd(sub, "EXIF" if tag == _EXIF_IFD else "Interop", _HARMLESS_EXIF)
            if tag in (273, 279, 324, 325, 513, 514):
                strips[tag] = self._values(kind, n, where)
        for offsets, lengths in ((273, 279), (324, 325), (513, 514)):
            if offsets in strips and lengths in strips:
                for start, length in zip(strips[offsets], strips[lengths], strict=False):
                    self.covered.append((start, start + length))
            elif offsets == 513 and 513 in strips:
                self.covered.append((strips[513][0], len(self.data)))
        (following,) = self._u("I", offset + 2 + 12 * count)
        return int(following)

    def _values(self, kind: int, n: int, where: int) -> list[int]:
        fmt = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I"}.get(kind)
        if fmt is None:
            return []
        if n > _MAX_VALUES:
            raise ValueError(f"{n} values in one tag")
        return list(self._u(f"{n}{fmt}", where))

    def _gaps(self) -> None:
        """Bytes no tag refers to can hold anything: a finding when over alignment slack."""
        position, hidden = 0, 0
        for start, stop in sorted(self.covered):
            if start > position + _SLACK:
                hidden += start - position
            position = max(position, stop)
        if len(self.data) > position + _SLACK:
            hidden += len(self.data) - position
        if hidden:
            self.findings.append(f"{hidden} bytes no tag refers to")


def _tiff_findings(data: bytes, *, file: bool) -> list[str]:
    allowed = _TIFF_TAGS if file else _HARMLESS_EXIF
    try:
        return _Tiff(data, allowed=allowed, file=file).walk()
    except (ValueError, struct.error) as exc:
        return [f"unreadable {'TIFF' if file else 'EXIF'} structure ({exc})"]


def exif_findings(block: bytes) -> list[str]:
    """What an EXIF block (with or without its ``Exif\\0\\0`` prefix) holds beyond
    :data:`_HARMLESS_EXIF`."""
    return _tiff_findings(block.removeprefix(b"Exif\x00\x00"), file=False)


# -- JPEG ------------------------------------------------------------------------------------

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


_Parts = list[bytes | memoryview]
"""The blocks a walker keeps: views into the upload, joined only when stripping."""


def _jpeg(data: bytes) -> tuple[list[str], _Parts]:
    findings: list[str] = []
    kept: _Parts = []
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


# -- PNG -------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEEP = frozenset(
    b"IHDR PLTE IDAT IEND tRNS cHRM gAMA iCCP sBIT sRGB cICP mDCV cLLI mDCv cLLi bKGD hIST "
    b"pHYs sPLT acTL fcTL fdAT".split()
)
"""Chunks for pixels, colour (profile included) and animation; every other ancillary chunk
(text, XMP, time, private ones) goes."""


def _png(data: bytes) -> tuple[list[str], _Parts]:
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("no PNG signature")
    findings: list[str] = []
    kept: _Parts = [_PNG_SIGNATURE]
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


# -- WebP ------------------------------------------------------------------------------------

_WEBP_KEEP = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _webp(data: bytes) -> tuple[list[str], _Parts]:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("no RIFF WEBP header")
    end = min(8 + int.from_bytes(data[4:8], "little"), len(data))
    findings: list[str] = []
    if end < len(data):
        findings.append(f"WebP: {len(data) - end} bytes after the RIFF data")
    chunks: _Parts = []
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


# -- GIF -------------------------------------------------------------------------------------

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


def _gif(data: bytes) -> tuple[list[str], _Parts]:
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError("no GIF header")
    flags = data[10]
    position = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    findings: list[str] = []
    view = memoryview(data)
    kept: _Parts = [view[:position]]
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


# -- HEIF / AVIF -----------------------------------------------------------------------------

_BMFF_TOP = frozenset({b"ftyp", b"meta", b"mdat", b"free", b"skip"})
_META_CHILDREN = frozenset(
    {b"hdlr", b"pitm", b"iloc", b"iinf", b"iref", b"iprp", b"idat", b"dinf", b"grpl", b"free"}
)


def _boxes(data: bytes, start: int, stop: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes in ``data[start:stop]``."""
    position = start
    while position + 8 <= stop:
        size, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, position + 8)
            header = 16
        elif size == 0:
            size = stop - position
        if size < header or position + size > stop:
            raise ValueError(f"box {kind!r} runs past its parent")
        yield kind, position + header, position + size
        position += size
    if position != stop:
        raise ValueError(f"{stop - position} stray bytes after the last box")


def _heif(data: bytes) -> list[str]:
    findings: list[str] = []
    payloads: list[tuple[int, int]] = []
    items: dict[int, bytes] = {}
    extents: dict[int, list[tuple[int, int]]] = {}
    for kind, start, stop in _boxes(data, 0, len(data)):
        if kind == b"mdat":
            payloads.append((start, stop))
        elif kind not in _BMFF_TOP:
            findings.append(f"HEIF top-level {kind.decode('latin-1')!r} box")
        if kind != b"meta":
            continue
        for child, child_start, child_stop in _boxes(data, start + 4, stop):
            if child not in _META_CHILDREN:
                findings.append(f"HEIF meta {child.decode('latin-1')!r} box")
            elif child == b"iinf":
                items.update(_heif_items(data, child_start, child_stop))
            elif child == b"iloc":
                extents.update(_heif_locations(data, child_start))
    for item_id, item_type in sorted(items.items()):
        if item_type == b"Exif":
            block = b"".join(data[a:b] for a, b in extents.get(item_id, []))
            skip = 4 + int.from_bytes(block[:4], "big") if len(block) >= 4 else 0
            findings += [f"HEIF Exif item: {f}" for f in exif_findings(block[skip:])]
        elif item_type in (b"mime", b"uri ", b"old "):
            findings.append(f"HEIF {item_type.decode('latin-1')!r} item")
    covered = sorted(extent for spans in extents.values() for extent in spans)
    for start, stop in payloads:  # image data no item refers to can hold anything
        position, hidden = start, 0
        for a, b in covered:
            if b <= start or a >= stop:
                continue
            if a - position > _SLACK:
                hidden += a - position
            position = max(position, b)
        if stop - position > _SLACK:
            hidden += stop - position
        if hidden:
            findings.append(f"HEIF: {hidden} bytes of mdat no item refers to")
    return findings


def _heif_items(data: bytes, start: int, stop: int) -> dict[int, bytes]:
    """Item id → item type, from ``iinf``."""
    version = data[start]
    first = start + 4 + (2 if version == 0 else 4)
    items: dict[int, bytes] = {}
    for kind, entry, _ in _boxes(data, first, stop):
        if kind != b"infe" or data[entry] < 2:
            items[-len(items) - 1] = b"old "  # an item info form without a type
            continue
        id_size = 2 if data[entry] == 2 else 4
        item_id = int.from_bytes(data[entry + 4 : entry + 4 + id_size], "big")
        items[item_id] = data[entry + 4 + id_size + 2 : entry + 4 + id_size + 6]
    return items


def _heif_locations(data: bytes, start: int) -> dict[int, list[tuple[int, int]]]:
    """Item id → its (start, stop) spans in the file, from ``iloc`` (file offsets only)."""
    version = data[start]
    position = start + 4
    sizes = int.from_bytes(data[position : position + 2], "big")
    offset_size, length_size = sizes >> 12, (sizes >> 8) & 15
    base_size, index_size = (sizes >> 4) & 15, sizes & 15 if version else 0
    position += 2

    def read(size: int) -> int:
        nonlocal position
        if position + size > len(data):
            raise ValueError("iloc runs past the end")
        value = int.from_bytes(data[position : position + size], "big")
        position += size
        return value

    count = read(2 if version < 2 else 4)
    spans: dict[int, list[tuple[int, int]]] = {}
    for _ in range(count):
        item_id = read(2 if version < 2 else 4)
        method = read(2) & 15 if version else 0
        read(2)  # data_reference_index
        base = read(base_size)
        for _ in range(read(2)):
            read(index_size)
            offset, length = read(offset_size), read(length_size)
            if method == 0:
                spans.setdefault(item_id, []).append((base + offset, base + offset + length))
    return spans


# -- entry points ----------------------------------------------------------------------------


def findings(data: bytes, extension: str) -> list[str]:
    """Every metadata container in ``data`` that is not provably harmless (empty: store as
    is). A structure that cannot be walked is itself a finding: the bytes are then cleaned."""
    try:
        if extension == "jpg":
            return _jpeg(data)[0]
        if extension == "png":
            return _png(data)[0]
        if extension == "webp":
            return _webp(data)[0]
        if extension == "gif":
            return _gif(data)[0]
        if extension == "tiff":
            return _tiff_findings(data, file=True)
        if extension in ("heic", "avif"):
            return _heif(data)
    except (ValueError, IndexError, struct.error) as exc:
        return [f"unreadable {extension} structure ({exc})"]
    return []


def strip(data: bytes, extension: str) -> bytes:
    """``data`` without its metadata blocks, every pixel byte as it was (only for
    :data:`STRIPPABLE` formats). Also drops harmless EXIF: the caller strips only an image
    that needs no rotation."""
    walkers = {"jpg": _jpeg, "png": _png, "webp": _webp, "gif": _gif}
    try:
        return b"".join(walkers[extension](data)[1])
    except (ValueError, IndexError, struct.error) as exc:
        raise MediaProbeError(f"metadata could not be removed: {exc}") from None


def clean(data: bytes, extension: str, *, rotate: bool) -> tuple[bytes, bool]:
    """Bytes that hold no finding, and whether they were re-encoded.

    Without a rotation to apply, a strippable format loses its metadata blocks and keeps its
    encoded pixels; otherwise libvips re-encodes upright (:func:`rewrite_image`). Either way
    the result is walked again, and refused if anything is left: what is stored is proven
    clean, not assumed to be.
    """
    reencoded = rotate or extension not in STRIPPABLE
    out = rewrite_image(data, extension) if reencoded else strip(data, extension)
    kind = sniff(out[:SNIFF_BYTES])
    out_extension = kind.extension if kind is not None else extension
    left = findings(out, out_extension)
    if left and out_extension in STRIPPABLE:
        out = strip(out, out_extension)
        left = findings(out, out_extension)
    if left:
        raise MediaProbeError(f"metadata could not be removed: {', '.join(left)}")
    return out, reencoded
