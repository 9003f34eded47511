"""Images that hide a location or personal metadata in every place their format allows.

Each fixture is built here: pyvips for what libvips writes itself, byte-level edits (struct)
for what it never writes or never reads (a TIFF GPS IFD, GIF comment and XMP extensions,
JPEG segments after the scan, bytes after the end…). Every hidden block carries
:data:`SECRET`, so a test can check the stored bytes themselves, whatever a decoder reports.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import pyvips

SECRET = b"SECRET-48.8582N-2.2945E"
SECRET_TEXT = SECRET.decode()
ICC = bytes(pyvips.Operation.call("profile_load", "srgb"))
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-'
    b'rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'exif:GPSLatitude="' + SECRET + b'"/></rdf:RDF></x:xmpmeta>'
)


def _ascii(value: str) -> str:
    """libvips' string form of an EXIF ASCII value."""
    n = len(value) + 1
    return f"{value} ({value}, ASCII, {n} components, {n} bytes)"


def picture(*, icc: bool = True, gps: bool = False, xmp: bool = False) -> pyvips.Image:
    """32×16, red left half and blue right half, with an sRGB profile."""
    left = (pyvips.Image.black(16, 16, bands=3) + [220, 20, 20]).cast("uchar")
    right = (pyvips.Image.black(16, 16, bands=3) + [20, 20, 220]).cast("uchar")
    image = left.join(right, "horizontal").copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", 1)
    if icc:
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", ICC)
    if gps:
        image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLatitudeRef", _ascii("N"))
        image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSMapDatum", _ascii(SECRET_TEXT))
    if xmp:
        image.set_type(pyvips.GValue.blob_type, "xmp-data", XMP)
    return image


def saved(fmt: str, **kwargs: bool) -> bytes:
    return bytes(picture(**kwargs).write_to_buffer(fmt))


# -- JPEG ------------------------------------------------------------------------------------


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def exif_block() -> bytes:
    """The APP1 EXIF payload of a JPEG carrying a location (as libvips writes it)."""
    data = saved(".jpg", gps=True)
    start = data.index(b"Exif\x00\x00")
    (length,) = struct.unpack_from(">H", data, start - 2)
    return data[start : start - 2 + length]


def jpeg_with_segment(marker: int, body: bytes, *, before_eoi: bool = False) -> bytes:
    data = saved(".jpg")
    segment = _segment(marker, body)
    if before_eoi:  # between the scan and EOI, where decoders skip it
        return data[:-2] + segment + data[-2:]
    return data[:2] + segment + data[2:]


# -- PNG -------------------------------------------------------------------------------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


ITXT_XMP = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00"
"""An uncompressed ``iTXt`` chunk's header for XMP."""


def png_after_pixels(chunk: bytes) -> bytes:
    """A clean PNG with ``chunk`` placed after its image data, before IEND."""
    data = saved(".png")
    return data[:-12] + chunk + data[-12:]


def png_exif_after_pixels() -> bytes:
    body = exif_block().removeprefix(b"Exif\x00\x00")
    return png_after_pixels(png_chunk(b"eXIf", body))


# -- WebP ------------------------------------------------------------------------------------


def webp_with_chunk(kind: bytes, body: bytes) -> bytes:
    data = saved(".webp")
    chunk = kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) % 2 else b"")
    riff = data[12:] + chunk
    return b"RIFF" + struct.pack("<I", len(riff) + 4) + b"WEBP" + riff


# -- GIF -------------------------------------------------------------------------------------


def _sub_blocks(payload: bytes) -> bytes:
    out = b"".join(
        bytes([len(payload[i : i + 255])]) + payload[i : i + 255]
        for i in range(0, len(payload), 255)
    )
    return out + b"\x00"


def gif_with_extension(label: int, payload: bytes, *, identifier: bytes = b"") -> bytes:
    """A GIF with an extension block before its image (identifier: an application's)."""
    data = saved(".gif", icc=False)
    head = bytes([0x21, label]) + (bytes([len(identifier)]) + identifier if identifier else b"")
    block = head + _sub_blocks(payload)
    flags = data[10]
    start = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    return data[:start] + block + data[start:]


def gif_loop_with_extra_sub_block() -> bytes:
    """A NETSCAPE looping extension as it should be (one 3-byte sub-block), then one more."""
    data = saved(".gif", icc=False)
    block = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00" + _sub_blocks(SECRET)
    flags = data[10]
    start = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    return data[:start] + block + data[start:]


def gif_xmp() -> bytes:
    """XMP as Adobe writes it in GIF: raw bytes then a 258-byte 'magic trailer'."""
    data = saved(".gif", icc=False)
    trailer = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"
    block = b"\x21\xff\x0bXMP DataXMP" + XMP + trailer
    flags = data[10]
    start = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    return data[:start] + block + data[start:]


# -- TIFF ------------------------------------------------------------------------------------


def tiff(
    extra: list[tuple[int, int, bytes]] | None = None,
    *,
    gps: bool = False,
    exif: bool = False,
    orientation: int = 1,
) -> bytes:
    """A 32×16 RGB little-endian TIFF written by hand, with an ICC profile, plus ``extra``
    IFD0 entries (tag, type, value bytes) and optionally a GPS IFD (34853) or an EXIF IFD
    (34665) holding :data:`SECRET`. libvips writes neither."""
    pixels = picture(icc=False).write_to_memory()
    width, height = 32, 16
    entries: list[tuple[int, int, int, bytes]] = []  # tag, type, count, value

    def short(tag: int, value: int) -> None:
        entries.append((tag, 3, 1, struct.pack("<H", value)))

    def long(tag: int, value: int) -> None:
        entries.append((tag, 4, 1, struct.pack("<I", value)))

    long(256, width)
    long(257, height)
    entries.append((258, 3, 3, struct.pack("<3H", 8, 8, 8)))
    short(259, 1)
    short(262, 2)
    long(273, 0)  # strip offset, patched below
    short(274, orientation)
    short(277, 3)
    long(278, height)
    long(279, len(pixels))
    short(284, 1)
    entries.append((34675, 7, len(ICC), ICC))
    for tag, kind, value in extra or []:
        size = {2: 1, 3: 2, 4: 4, 5: 8, 7: 1}[kind]
        entries.append((tag, kind, len(value) // size, value))
    sub_ifds: list[tuple[int, list[tuple[int, int, int, bytes]]]] = []
    if gps:
        rational = struct.pack("<6I", 48, 1, 51, 1, 2964, 100)
        sub_ifds.append(
            (
                34853,
                [
                    (1, 2, 2, b"N\x00"),
                    (2, 5, 3, rational),
                    (18, 2, len(SECRET) + 1, SECRET + b"\x00"),  # GPSMapDatum
                ],
            )
        )
    if exif:
        comment = b"ASCII\x00\x00\x00" + SECRET
        sub_ifds.append((34665, [(0x9286, 7, len(comment), comment), (0xA430, 2, 6, b"Alice\x00")]))
    for tag, _ in sub_ifds:
        long(tag, 0)  # patched below
    entries.sort()

    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    strip_at = None

    def write_ifd(items: list[tuple[int, int, int, bytes]]) -> tuple[int, dict[int, int]]:
        """Append an IFD and its out-of-line values; return its offset and value slots."""
        start = len(out)
        values_at = start + 2 + 12 * len(items) + 4
        blob = bytearray()
        slots: dict[int, int] = {}
        table = bytearray(struct.pack("<H", len(items)))
        for i, (tag, kind, count, value) in enumerate(items):
            if len(value) <= 4:
                table += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\x00")
            else:
                table += struct.pack("<HHII", tag, kind, count, values_at + len(blob))
                blob += value + (b"\x00" if len(value) % 2 else b"")
            slots[tag] = start + 2 + 12 * i + 8
        table += struct.pack("<I", 0)
        out.extend(table + blob)
        return start, slots

    _, slots = write_ifd(entries)
    for tag, items in sub_ifds:
        offset, _ = write_ifd(sorted(items))
        struct.pack_into("<I", out, slots[tag], offset)
    strip_at = len(out)
    struct.pack_into("<I", out, slots[273], strip_at)
    out.extend(pixels)
    return bytes(out)


# -- HEIF / AVIF -----------------------------------------------------------------------------


def heic_with_exif() -> bytes:
    """libvips writes HEIF only with AV1 here (no HEVC encoder): the same container with a
    ``heic`` major brand, which the sniffer and libheif take for HEIC."""
    data = bytearray(saved(".avif", gps=True))
    data[8:12] = b"heic"
    return bytes(data)


def _boxes(data: bytes, start: int, stop: int) -> list[tuple[bytes, int, int]]:
    """(type, box start, box end) of the plain 32-bit boxes in ``data[start:stop]``."""
    found, position = [], start
    while position < stop:
        size, kind = struct.unpack_from(">I4s", data, position)
        found.append((kind, position, position + size))
        position += size
    return found


def _shift_iloc(data: bytearray, iloc: int, delta: int) -> None:
    """Move every item's file position in the ``iloc`` box at ``iloc`` by ``delta`` (libheif
    writes version 0: a base offset an item, which it moves, else the extents' offsets)."""
    assert data[iloc + 8] == 0, "fixture expects iloc version 0"
    sizes = int.from_bytes(data[iloc + 12 : iloc + 14], "big")
    offset_size, length_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15

    def move(position: int, size: int) -> None:
        value = int.from_bytes(data[position : position + size], "big")
        data[position : position + size] = (value + delta).to_bytes(size, "big")

    position = iloc + 16
    for _ in range(int.from_bytes(data[iloc + 14 : iloc + 16], "big")):
        position += 4  # item id, data reference index
        if base_size:
            move(position, base_size)
        position += base_size
        extents = int.from_bytes(data[position : position + 2], "big")
        position += 2
        for _ in range(extents):
            if not base_size:
                move(position, offset_size)
            position += offset_size + length_size


def avif_with_property(kind: bytes, body: bytes) -> bytes:
    """An AVIF whose ``ipco`` ends with one more item property (``udes``, a user description
    with a name and tags, is in the HEIF standard), every size and offset moved to match."""
    data = bytearray(saved(".avif"))
    added = struct.pack(">I4s", 8 + len(body), kind) + body
    ((_, meta, meta_end),) = [b for b in _boxes(data, 0, len(data)) if b[0] == b"meta"]
    children = {k: (a, b) for k, a, b in _boxes(data, meta + 12, meta_end)}
    iprp, iprp_end = children[b"iprp"]
    ipco, ipco_end = next((a, b) for k, a, b in _boxes(data, iprp + 8, iprp_end) if k == b"ipco")
    data[ipco_end:ipco_end] = added
    for box in (meta, iprp, ipco):
        size = int.from_bytes(data[box : box + 4], "big")
        data[box : box + 4] = (size + len(added)).to_bytes(4, "big")
    _shift_iloc(data, children[b"iloc"][0], len(added))
    return bytes(data)


def avif_with_hidden_mdat_bytes() -> bytes:
    """Bytes inside ``mdat`` that no item points to: no decoder reads them."""
    data = bytearray(saved(".avif"))
    ((_, mdat, _),) = [b for b in _boxes(data, 0, len(data)) if b[0] == b"mdat"]
    data += SECRET
    size = int.from_bytes(data[mdat : mdat + 4], "big")
    data[mdat : mdat + 4] = (size + len(SECRET)).to_bytes(4, "big")
    return bytes(data)


def avif_with_alpha_and_exif() -> bytes:
    """Alpha is an auxiliary image item (an ``auxl`` reference and an ``auxC`` property):
    what stripping keeps, beside the EXIF item it drops."""
    image = picture(gps=True)
    return bytes(image.bandjoin(255).copy(interpretation="srgb").write_to_buffer(".avif"))


def webp_frame_with_chunk(kind: bytes, body: bytes) -> bytes:
    """An animated WebP whose first frame (``ANMF``) carries one more sub-chunk: the format
    allows unknown chunks there too."""
    frames = pyvips.Image.arrayjoin([picture(), picture().fliphor()], across=1).copy()
    frames.set_type(pyvips.GValue.gint_type, "page-height", 16)
    frames.set_type(pyvips.GValue.array_int_type, "delay", [100, 100])
    data = bytearray(frames.write_to_buffer(".webp"))
    position = 12
    while data[position : position + 4] != b"ANMF":
        assert position < len(data), "libvips wrote no animation"
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        position += 8 + size + (size & 1)
    size = int.from_bytes(data[position + 4 : position + 8], "little")
    chunk = kind + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)
    data[position + 8 + size : position + 8 + size] = chunk
    data[position + 4 : position + 8] = (size + len(chunk)).to_bytes(4, "little")
    data[4:8] = (len(data) - 8).to_bytes(4, "little")
    return bytes(data)


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], bytes]
    extension: str
    seen_by_libvips: bool
    """Whether libvips reports this metadata at all (when not, today's code stored it)."""
    icc: bool = True
    upright: tuple[int, int] = (32, 16)


CASES = [
    Case("jpeg-exif-gps", lambda: saved(".jpg", gps=True), "jpg", True),
    Case("jpeg-xmp", lambda: saved(".jpg", xmp=True), "jpg", True),
    Case("jpeg-comment", lambda: jpeg_with_segment(0xFE, SECRET), "jpg", False),
    Case(
        "jpeg-iptc-app13",
        lambda: jpeg_with_segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04" + SECRET),
        "jpg",
        False,
    ),
    Case(
        "jpeg-exif-after-scan",
        lambda: jpeg_with_segment(0xE1, exif_block(), before_eoi=True),
        "jpg",
        False,
    ),
    Case(
        "jpeg-jfif-trailing-bytes",  # a JFIF header with more after it (a thumbnail's place)
        lambda: jpeg_with_segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + SECRET),
        "jpg",
        False,
    ),
    Case(
        "jpeg-adobe-trailing-bytes",
        lambda: jpeg_with_segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01" + SECRET),
        "jpg",
        False,
    ),
    Case("jpeg-dnl-with-payload", lambda: jpeg_with_segment(0xDC, SECRET), "jpg", False),
    Case("jpeg-after-eoi", lambda: saved(".jpg") + saved(".jpg", gps=True), "jpg", False),
    Case("png-exif-before-pixels", lambda: saved(".png", gps=True), "png", True),
    Case("png-exif-after-pixels", png_exif_after_pixels, "png", False),
    Case("png-xmp", lambda: saved(".png", xmp=True), "png", True),
    Case(
        "png-itxt-after-pixels",
        lambda: png_after_pixels(
            png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + XMP)
        ),
        "png",
        False,
    ),
    Case(
        "png-text-after-pixels",
        lambda: png_after_pixels(png_chunk(b"tEXt", b"Comment\x00" + SECRET)),
        "png",
        False,
    ),
    Case(
        "png-private-chunk",
        lambda: png_after_pixels(png_chunk(b"prVt", SECRET)),
        "png",
        False,
    ),
    Case("png-after-iend", lambda: saved(".png") + SECRET, "png", False),
    Case("webp-exif", lambda: saved(".webp", gps=True), "webp", True),
    Case("webp-xmp", lambda: saved(".webp", xmp=True), "webp", True),
    Case("webp-unknown-chunk", lambda: webp_with_chunk(b"prVt", SECRET), "webp", False),
    Case("webp-after-riff", lambda: saved(".webp") + SECRET, "webp", False),
    Case("tiff-gps-ifd", lambda: tiff(gps=True), "tiff", False),
    Case(
        "tiff-gps-ifd-rotated",
        lambda: tiff(gps=True, orientation=6),
        "tiff",
        False,
        upright=(16, 32),
    ),
    Case("tiff-exif-ifd", lambda: tiff(exif=True), "tiff", False),
    Case("tiff-xmp", lambda: tiff([(700, 7, XMP)]), "tiff", True),
    Case("tiff-description", lambda: tiff([(270, 2, SECRET + b"\x00")]), "tiff", False),
    Case(  # a harmless tag (XResolution) of another type, holding text
        "tiff-reshaped-harmless-tag", lambda: tiff([(282, 7, SECRET)]), "tiff", False
    ),
    Case("tiff-unreferenced-bytes", lambda: tiff() + SECRET, "tiff", False),
    Case("gif-comment", lambda: gif_with_extension(0xFE, SECRET), "gif", False, icc=False),
    Case("gif-xmp", gif_xmp, "gif", False, icc=False),
    Case(
        "gif-plain-text",
        lambda: gif_with_extension(0x01, bytes(12) + SECRET),
        "gif",
        False,
        icc=False,
    ),
    Case(
        "gif-graphic-control-extra-sub-block",
        lambda: gif_with_extension(0xF9, SECRET, identifier=b"\x00\x00\x00\x00"),
        "gif",
        False,
        icc=False,
    ),
    Case("gif-loop-extra-sub-block", gif_loop_with_extra_sub_block, "gif", False, icc=False),
    Case("gif-after-trailer", lambda: saved(".gif", icc=False) + SECRET, "gif", False, icc=False),
    Case("avif-exif-gps", lambda: saved(".avif", gps=True), "avif", True),
    Case("avif-xmp", lambda: saved(".avif", xmp=True), "avif", True),
    Case("heic-exif-gps", heic_with_exif, "heic", True),
    Case("avif-udes-property", lambda: avif_with_property(b"udes", SECRET), "avif", False),
    Case("avif-private-property", lambda: avif_with_property(b"uuid", SECRET), "avif", False),
    Case("avif-hidden-mdat-bytes", avif_with_hidden_mdat_bytes, "avif", False),
    Case(
        "avif-top-level-box",
        lambda: saved(".avif") + struct.pack(">I4s", 8 + len(SECRET), b"uuid") + SECRET,
        "avif",
        False,
    ),
    Case("avif-alpha-exif-gps", avif_with_alpha_and_exif, "avif", True),
    Case("webp-frame-chunk", lambda: webp_frame_with_chunk(b"prVt", SECRET), "webp", False),
]

CLEAN = {
    "jpg": lambda: saved(".jpg"),
    "png": lambda: saved(".png"),
    "webp": lambda: saved(".webp"),
    "gif": lambda: saved(".gif", icc=False),
    "tiff": tiff,
    "avif": lambda: saved(".avif"),
}
"""What these formats look like with nothing to hide (libvips' own harmless EXIF included)."""
