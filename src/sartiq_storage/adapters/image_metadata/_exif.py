"""EXIF and TIFF structures: every IFD walked, every tag judged by its shape."""

from __future__ import annotations

import struct

from sartiq_storage.adapters.image_metadata._common import SLACK

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
            if start > position + SLACK:
                hidden += start - position
            position = max(position, stop)
        if len(self.data) > position + SLACK:
            hidden += len(self.data) - position
        if hidden:
            self.findings.append(f"{hidden} bytes no tag refers to")


def tiff_findings(data: bytes, *, file: bool) -> list[str]:
    allowed = _TIFF_TAGS if file else _HARMLESS_EXIF
    try:
        return _Tiff(data, allowed=allowed, file=file).walk()
    except (ValueError, struct.error) as exc:
        return [f"unreadable {'TIFF' if file else 'EXIF'} structure ({exc})"]


def exif_findings(block: bytes) -> list[str]:
    """What an EXIF block (with or without its ``Exif\\0\\0`` prefix) holds beyond
    :data:`_HARMLESS_EXIF`."""
    return tiff_findings(block.removeprefix(b"Exif\x00\x00"), file=False)
