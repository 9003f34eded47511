"""HEIF and AVIF (ISO BMFF): items, their properties and locations, and the boxes around them.

:func:`heif_findings` lists what is not the image's own; :func:`heif_strip` rebuilds the file
without it and without decoding a pixel: the ``meta`` box keeps its image items, their
properties and references, and a new ``mdat`` holds only the bytes those items point to (the
offsets in ``iloc`` rewritten to match). Anything it cannot rebuild exactly (external data
references, entity groups naming a dropped item, an extent "to the end of the file") raises
``ValueError``, and the caller re-encodes instead.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from sartiq_storage.adapters.image_metadata._common import SLACK
from sartiq_storage.adapters.image_metadata._exif import exif_findings

_BMFF_TOP = frozenset({b"ftyp", b"meta", b"mdat", b"free", b"skip"})
_META_CHILDREN = frozenset(
    {b"hdlr", b"pitm", b"iloc", b"iinf", b"iref", b"iprp", b"idat", b"dinf", b"grpl", b"free"}
)
_PROPERTIES = frozenset(
    b"ispe pixi colr av1C hvcC vvcC irot imir clap pasp auxC rloc lsel a1op a1lx clli mdcv "
    b"cclv amve iscl".split()
)
"""Item properties that describe pixels (size, colour, codec set-up, transformations, HDR);
any other (``udes`` user descriptions, ``uuid`` boxes…) can carry anything."""
_METADATA_ITEMS = frozenset({b"Exif", b"mime", b"uri ", b"old "})
"""Item types that hold metadata (EXIF, XMP as ``mime``, URIs) or cannot be told apart."""


def boxes(data: bytes, start: int, stop: int) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, box start, payload start, box end) of the boxes in ``data[start:stop]``."""
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
        yield kind, position, position + header, position + size
        position += size
    if position != stop:
        raise ValueError(f"{stop - position} stray bytes after the last box")


@dataclass
class _Location:
    item_id: int
    method: int
    reference: int
    base: int
    extents: list[tuple[int, int, int]]  # (index, offset, length)


@dataclass
class _Iloc:
    version: int
    index_size: int
    locations: list[_Location]


@dataclass
class _Meta:
    """What :func:`_parse` read: the boxes by type, the items, where their bytes are."""

    findings: list[str] = field(default_factory=list)
    top: list[tuple[bytes, int, int, int]] = field(default_factory=list)
    children: list[tuple[bytes, int, int, int]] = field(default_factory=list)
    meta_flags: bytes = b"\x00\x00\x00\x00"
    infe: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)  # id → (type, box)
    iinf_version: int = 0
    iloc: _Iloc | None = None


def _parse(data: bytes) -> _Meta:
    meta = _Meta()
    for kind, box, start, stop in boxes(data, 0, len(data)):
        meta.top.append((kind, box, start, stop))
        if kind not in _BMFF_TOP:
            meta.findings.append(f"HEIF top-level {kind.decode('latin-1')!r} box")
        if kind != b"meta":
            continue
        meta.meta_flags = data[start : start + 4]
        for child, child_box, child_start, child_stop in boxes(data, start + 4, stop):
            meta.children.append((child, child_box, child_start, child_stop))
            if child not in _META_CHILDREN:
                meta.findings.append(f"HEIF meta {child.decode('latin-1')!r} box")
            elif child == b"iinf":
                meta.iinf_version = data[child_start]
                meta.infe.update(_items(data, child_start, child_stop))
            elif child == b"iloc":
                meta.iloc = _locations(data, child_start, child_stop)
            elif child == b"iprp":
                meta.findings += _property_findings(data, child_start, child_stop)
    return meta


def _items(data: bytes, start: int, stop: int) -> dict[int, tuple[bytes, bytes]]:
    """Item id → (item type, its whole ``infe`` box), from ``iinf``."""
    version = data[start]
    first = start + 4 + (2 if version == 0 else 4)
    items: dict[int, tuple[bytes, bytes]] = {}
    for kind, box, entry, end in boxes(data, first, stop):
        if kind != b"infe" or data[entry] < 2:
            items[-len(items) - 1] = (b"old ", data[box:end])  # an item info without a type
            continue
        id_size = 2 if data[entry] == 2 else 4
        item_id = int.from_bytes(data[entry + 4 : entry + 4 + id_size], "big")
        items[item_id] = (data[entry + 4 + id_size + 2 : entry + 4 + id_size + 6], data[box:end])
    return items


def _locations(data: bytes, start: int, stop: int) -> _Iloc:
    """Every item's location, from ``iloc``."""
    version = data[start]
    position = start + 4

    def read(size: int) -> int:
        nonlocal position
        if position + size > stop:
            raise ValueError("iloc runs past its end")
        value = int.from_bytes(data[position : position + size], "big")
        position += size
        return value

    sizes = read(2)
    offset_size, length_size = sizes >> 12, (sizes >> 8) & 15
    base_size, index_size = (sizes >> 4) & 15, sizes & 15 if version else 0
    locations: list[_Location] = []
    for _ in range(read(2 if version < 2 else 4)):
        item_id = read(2 if version < 2 else 4)
        method = read(2) & 15 if version else 0
        reference = read(2)
        base = read(base_size)
        extents = [(read(index_size), read(offset_size), read(length_size)) for _ in range(read(2))]
        locations.append(_Location(item_id, method, reference, base, extents))
    return _Iloc(version, index_size, locations)


def _spans(location: _Location) -> list[tuple[int, int]]:
    """The file spans of an item stored in ``mdat`` (construction method 0)."""
    if location.method != 0:
        return []
    return [(location.base + o, location.base + o + n) for _, o, n in location.extents]


def _property_findings(data: bytes, start: int, stop: int) -> list[str]:
    found = []
    for kind, _, child_start, child_stop in boxes(data, start, stop):
        if kind == b"ipco":
            for prop, _, _, _ in boxes(data, child_start, child_stop):
                if prop not in _PROPERTIES:
                    found.append(f"HEIF {prop.decode('latin-1')!r} item property")
        elif kind != b"ipma":
            found.append(f"HEIF iprp {kind.decode('latin-1')!r} box")
    return found


def heif_findings(data: bytes) -> list[str]:
    """What a HEIF or AVIF holds beyond its image items (empty: nothing to remove)."""
    meta = _parse(data)
    findings = meta.findings
    locations = {loc.item_id: loc for loc in (meta.iloc.locations if meta.iloc else [])}
    for item_id, (item_type, _) in sorted(meta.infe.items()):
        if item_type == b"Exif":
            spans = _spans(locations[item_id]) if item_id in locations else []
            block = b"".join(data[a:b] for a, b in spans)
            skip = 4 + int.from_bytes(block[:4], "big") if len(block) >= 4 else 0
            findings += [f"HEIF Exif item: {f}" for f in exif_findings(block[skip:])]
        elif item_type in _METADATA_ITEMS:
            findings.append(f"HEIF {item_type.decode('latin-1')!r} item")
    covered = sorted(span for loc in locations.values() for span in _spans(loc))
    for kind, _, start, stop in meta.top:  # image data no item refers to can hold anything
        if kind != b"mdat":
            continue
        position, hidden = start, 0
        for a, b in covered:
            if b <= start or a >= stop:
                continue
            if a - position > SLACK:
                hidden += a - position
            position = max(position, b)
        if stop - position > SLACK:
            hidden += stop - position
        if hidden:
            findings.append(f"HEIF: {hidden} bytes of mdat no item refers to")
    return findings


# -- rebuilding ------------------------------------------------------------------------------


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def heif_strip(data: bytes) -> bytes:
    """``data`` rebuilt with its image items only: every coded pixel byte copied as it was."""
    meta = _parse(data)
    if meta.iloc is None or not meta.infe:
        raise ValueError("no item locations")
    dropped = {i for i, (kind, _) in meta.infe.items() if kind in _METADATA_ITEMS}
    kept = [loc for loc in meta.iloc.locations if loc.item_id not in dropped]
    if any(loc.reference != 0 for loc in kept):
        raise ValueError("item data in another file")
    if any(n == 0 for loc in kept if loc.method == 0 for _, _, n in loc.extents):
        raise ValueError("an extent to the end of the file")
    # The new mdat: each kept span once, in file order.
    spans = sorted({span for loc in kept for span in _spans(loc)})
    moved: dict[tuple[int, int], int] = {}
    mdat_payload = bytearray()
    for a, b in spans:
        if b > len(data):
            raise ValueError("an extent runs past the end")
        moved[(a, b)] = len(mdat_payload)
        mdat_payload += data[a:b]
    wide = len(data) + len(mdat_payload) > 0xFFFF_FFF0
    children = []
    for kind, box, start, stop in meta.children:
        if kind == b"iinf":
            children.append((kind, _iinf(meta, dropped)))
        elif kind == b"iloc":
            children.append((kind, b""))  # placeholder: written once the layout is known
        elif kind == b"iref":
            children.append((kind, _iref(data, start, stop, dropped)))
        elif kind == b"iprp":
            children.append((kind, _iprp(data, start, stop, dropped)))
        elif kind == b"grpl":
            _check_groups(data, start, stop, dropped)
            children.append((kind, data[box:stop]))
        elif kind in _META_CHILDREN and kind != b"free":
            children.append((kind, data[box:stop]))
    ftyp = b"".join(data[box:stop] for kind, box, _, stop in meta.top if kind == b"ftyp")
    iloc_placeholder = _iloc(meta.iloc, kept, {}, 0, wide)
    meta_size = 12 + sum(len(b) if k != b"iloc" else len(iloc_placeholder) for k, b in children)
    mdat_header = 16 if wide else 8
    payload_at = len(ftyp) + meta_size + mdat_header
    iloc = _iloc(meta.iloc, kept, moved, payload_at, wide)
    body = b"".join(iloc if k == b"iloc" else b for k, b in children)
    meta_box = _box(b"meta", meta.meta_flags + body)
    if wide:
        mdat = struct.pack(">I4sQ", 1, b"mdat", 16 + len(mdat_payload))
    else:
        mdat = struct.pack(">I4s", 8 + len(mdat_payload), b"mdat")
    return ftyp + meta_box + mdat + bytes(mdat_payload)


def _iinf(meta: _Meta, dropped: set[int]) -> bytes:
    entries = [box for i, (_, box) in meta.infe.items() if i not in dropped]
    count = struct.pack(">H" if meta.iinf_version == 0 else ">I", len(entries))
    return _box(b"iinf", bytes([meta.iinf_version, 0, 0, 0]) + count + b"".join(entries))


def _iloc(
    iloc: _Iloc,
    kept: list[_Location],
    moved: dict[tuple[int, int], int],
    payload_at: int,
    wide: bool,
) -> bytes:
    """``iloc`` for the kept items: method-0 extents point into the new ``mdat``."""
    size = 8 if wide else 4
    version = iloc.version
    out = bytearray([version, 0, 0, 0])
    out += struct.pack(">H", (size << 12) | (size << 8) | (size << 4) | iloc.index_size)
    out += struct.pack(">H" if version < 2 else ">I", len(kept))
    for loc in kept:
        out += loc.item_id.to_bytes(2 if version < 2 else 4, "big")
        if version:
            out += struct.pack(">H", loc.method)
        out += struct.pack(">H", loc.reference)
        base = 0 if loc.method == 0 else loc.base
        out += base.to_bytes(size, "big")
        out += struct.pack(">H", len(loc.extents))
        for index, offset, length in loc.extents:
            if loc.method == 0:
                start = loc.base + offset
                offset = payload_at + moved.get((start, start + length), 0)
            if iloc.index_size:
                out += index.to_bytes(iloc.index_size, "big")
            out += offset.to_bytes(size, "big") + length.to_bytes(size, "big")
    return _box(b"iloc", bytes(out))


def _iref(data: bytes, start: int, stop: int, dropped: set[int]) -> bytes:
    """``iref`` without references from or to a dropped item (EXIF's ``cdsc``…)."""
    version = data[start]
    id_size = 2 if version == 0 else 4
    out = bytearray(data[start : start + 4])
    for kind, _, entry, end in boxes(data, start + 4, stop):
        source = int.from_bytes(data[entry : entry + id_size], "big")
        count = int.from_bytes(data[entry + id_size : entry + id_size + 2], "big")
        first = entry + id_size + 2
        if first + count * id_size != end:
            raise ValueError("iref entry of the wrong size")
        targets = [
            int.from_bytes(data[first + i * id_size : first + (i + 1) * id_size], "big")
            for i in range(count)
        ]
        targets = [t for t in targets if t not in dropped]
        if source in dropped or not targets:
            continue
        payload = source.to_bytes(id_size, "big") + struct.pack(">H", len(targets))
        payload += b"".join(t.to_bytes(id_size, "big") for t in targets)
        out += _box(kind, payload)
    return _box(b"iref", bytes(out))


def _iprp(data: bytes, start: int, stop: int, dropped: set[int]) -> bytes:
    """``iprp`` with only pixel-describing properties, and associations for kept items."""
    removed: set[int] = set()  # 1-based indices of the properties taken out of ipco
    properties: list[bytes] = []
    parts: list[tuple[bytes, int, int, int]] = list(boxes(data, start, stop))
    for kind, _, child_start, child_stop in parts:
        if kind == b"ipco":
            for index, (prop, box, _, end) in enumerate(
                boxes(data, child_start, child_stop), start=1
            ):
                if prop in _PROPERTIES:
                    properties.append(data[box:end])
                else:
                    removed.add(index)
    renumber = _renumbering(removed)
    out = bytearray(_box(b"ipco", b"".join(properties)))
    for kind, _, child_start, child_stop in parts:
        if kind == b"ipma":
            out += _ipma(data, child_start, child_stop, dropped, removed, renumber)
    return _box(b"iprp", bytes(out))


def _renumbering(removed: set[int]) -> dict[int, int]:
    """Old 1-based property index → new one, for the indices below the largest removed."""
    mapping, shift = {}, 0
    for index in range(1, max(removed, default=0) + 1):
        if index in removed:
            shift += 1
        else:
            mapping[index] = index - shift
    return mapping


def _ipma(
    data: bytes,
    start: int,
    stop: int,
    dropped: set[int],
    removed: set[int],
    renumber: dict[int, int],
) -> bytes:
    version, flags = data[start], int.from_bytes(data[start + 1 : start + 4], "big")
    id_size, wide = (2 if version < 1 else 4), bool(flags & 1)
    width, mask = (2, 0x7FFF) if wide else (1, 0x7F)
    position = start + 8
    entries = []
    for _ in range(int.from_bytes(data[start + 4 : start + 8], "big")):
        if position + id_size + 1 > stop:
            raise ValueError("ipma runs past its end")
        item_id = int.from_bytes(data[position : position + id_size], "big")
        count = data[position + id_size]
        position += id_size + 1
        associations = []
        for _ in range(count):
            value = int.from_bytes(data[position : position + width], "big")
            position += width
            index = value & mask
            if index in removed:
                continue
            index = renumber.get(index, index - len(removed))
            associations.append((value & ~mask) | index)
        if item_id not in dropped:
            entries.append((item_id, associations))
    if position != stop:
        raise ValueError("ipma of the wrong size")
    out = bytearray(data[start : start + 4]) + struct.pack(">I", len(entries))
    for item_id, associations in entries:
        out += item_id.to_bytes(id_size, "big") + bytes([len(associations)])
        out += b"".join(a.to_bytes(width, "big") for a in associations)
    return _box(b"ipma", bytes(out))


def _check_groups(data: bytes, start: int, stop: int, dropped: set[int]) -> None:
    """Entity groups naming a dropped item cannot be rebuilt here (rare): re-encode then."""
    for _, _, entry, end in boxes(data, start, stop):
        count = int.from_bytes(data[entry + 8 : entry + 12], "big")
        if entry + 12 + 4 * count > end:
            raise ValueError("grpl entry of the wrong size")
        ids = {
            int.from_bytes(data[entry + 12 + 4 * i : entry + 16 + 4 * i], "big")
            for i in range(count)
        }
        if ids & dropped:
            raise ValueError("an entity group names a metadata item")
