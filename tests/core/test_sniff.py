"""``core/sniff.py``: what a file is, from its first bytes only.

Each accepted type is sniffed from real bytes made with the real codecs (pyvips, PyAV); the
two no codec here can write (HEIC needs an HEVC encoder, big-endian TIFF an option libvips
lacks) are the real AVIF and TIFF bytes with their signatures edited. Anything else, real
files of other formats included, is ``None``; and the first ``SNIFF_BYTES`` always suffice.
"""

from __future__ import annotations

import gzip
import io
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import av
import pytest
import pyvips

from sartiq_storage.core.sniff import (
    ALLOWED_UPLOAD_TYPES,
    AVIF,
    GIF,
    HEIC,
    JPEG,
    M4V,
    MOV,
    MP4,
    PNG,
    SNIFF_BYTES,
    TIFF,
    WEBM,
    WEBP,
    Sniffed,
    declared_type,
    sniff,
)
from sartiq_storage.testing.media import image_bytes, mp4_bytes


def _video(container: str, codec: str) -> bytes:
    """A few frames in ``container``, encoded with ``codec`` by PyAV (FFmpeg)."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame(64, 48, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([i * 10]) * plane.buffer_size)
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return buffer.getvalue()


def _heic() -> bytes:
    """A real HEIF file (libheif's AVIF) branded as HEIC: same boxes, ``heic`` brands."""
    avif = image_bytes("avif")
    assert avif[4:12] == b"ftypavif"
    assert b"mif1avif" in avif[:64]
    return avif.replace(b"ftypavif", b"ftypheic", 1).replace(b"mif1avif", b"mif1heic", 1)


def _big_endian_tiff() -> bytes:
    """libvips writes little-endian TIFF only: the same file with a Motorola byte order mark
    (only the signature matters to sniffing)."""
    little = image_bytes("tif")
    assert little.startswith(b"II*\x00")
    return b"MM\x00*" + little[4:]


ACCEPTED: dict[str, tuple[Callable[[], bytes], Sniffed]] = {
    "jpeg": (lambda: image_bytes("jpg"), JPEG),
    "png": (lambda: image_bytes("png"), PNG),
    "gif": (lambda: image_bytes("gif"), GIF),
    "webp": (lambda: image_bytes("webp"), WEBP),
    "avif": (lambda: image_bytes("avif"), AVIF),
    "heic": (_heic, HEIC),
    "tiff little-endian": (lambda: image_bytes("tif"), TIFF),
    "tiff big-endian": (_big_endian_tiff, TIFF),
    "mp4": (mp4_bytes, MP4),
    "mp4 h264": (lambda: _video("mp4", "libx264"), MP4),
    "mov": (lambda: _video("mov", "mpeg4"), MOV),
    "m4v": (lambda: _video("ipod", "mpeg4"), M4V),
    "webm vp8": (lambda: _video("webm", "libvpx"), WEBM),
    "webm vp9": (lambda: _video("webm", "libvpx-vp9"), WEBM),
}


def _make(name: str) -> bytes:
    return ACCEPTED[name][0]()


@pytest.mark.parametrize("name", ACCEPTED)
def test_each_accepted_type_is_recognised_from_real_bytes(name: str) -> None:
    assert sniff(_make(name)) == ACCEPTED[name][1]


@pytest.mark.parametrize("name", ACCEPTED)
def test_the_first_sniff_bytes_suffice(name: str) -> None:
    """Callers hand over ``data[:SNIFF_BYTES]`` (or the first chunks of a large upload)."""
    data = _make(name)
    assert sniff(data[:SNIFF_BYTES]) == sniff(data) == ACCEPTED[name][1]


def test_every_accepted_type_is_reachable() -> None:
    """No entry of ``ALLOWED_UPLOAD_TYPES`` is left without a sample above."""
    assert {kind for _, kind in ACCEPTED.values()} == set(ALLOWED_UPLOAD_TYPES.values())
    images = {JPEG, PNG, GIF, WEBP, AVIF, HEIC, TIFF}
    for kind in ALLOWED_UPLOAD_TYPES.values():
        assert kind.resource_type == ("IMAGE" if kind in images else "VIDEO")


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", image_bytes("jpg"))
    return buffer.getvalue()


def _vips_native(tmp_path: Path) -> bytes:
    """libvips's own ``.v`` format: a real image file of a type the platform does not take."""
    path = tmp_path / "image.v"
    (pyvips.Image.black(8, 8, bands=3) + [1, 2, 3]).cast("uchar").write_to_file(str(path))
    return path.read_bytes()


REFUSED: dict[str, Callable[[Path], bytes]] = {
    "empty": lambda _: b"",
    "svg": lambda _: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "html": lambda _: b"<!DOCTYPE html><html><body>hello</body></html>",
    "pdf": lambda _: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
    "zip holding a jpeg": lambda _: _zip(),
    "gzip of a png": lambda _: gzip.compress(image_bytes("png")),
    "an executable": lambda _: Path(sys.executable).resolve().read_bytes()[:SNIFF_BYTES],
    "matroska, not webm": lambda _: _video("matroska", "mpeg4"),
    "libvips .v image": _vips_native,
    "raw pixels": lambda _: bytes(
        (pyvips.Image.black(8, 8, bands=3) + [1, 2, 3]).cast("uchar").write_to_memory()
    ),
    "jpeg magic cut short": lambda _: image_bytes("jpg")[:2],
    "a jpeg inside a text file": lambda _: b"see: " + image_bytes("jpg"),
    "ftyp box cut short": lambda _: mp4_bytes()[:11],
    "unknown ftyp brand": lambda _: b"\x00\x00\x00\x14ftypcrx \x00\x00\x00\x01crx ",
    "riff that is not webp": lambda _: b"RIFF\x24\x00\x00\x00WAVEfmt ",
}


@pytest.mark.parametrize("name", REFUSED)
def test_anything_else_is_none(name: str, tmp_path: Path) -> None:
    assert sniff(REFUSED[name](tmp_path)) is None


def test_an_ftyp_box_claiming_more_than_the_prefix_is_read_for_64_bytes_only() -> None:
    """A box size outside 16..4096 is not trusted: compatible brands past byte 64 are not
    read, so no input makes ``sniff`` look beyond a bounded prefix."""
    header = (10_000).to_bytes(4, "big") + b"ftypXXXX\x00\x00\x00\x00"
    early = header + b"isom" + b"\x00" * 60
    late = header + b"\x00" * 60 + b"isom"
    assert sniff(early) == MP4
    assert sniff(late) is None
    honest = (len(late)).to_bytes(4, "big") + late[4:]
    assert sniff(honest) == MP4  # the same brand, within a box whose size is believable


def test_webm_is_told_from_other_matroska_within_its_first_64_bytes() -> None:
    webm = _video("webm", "libvpx")
    assert b"webm" in webm[:64]
    assert sniff(webm[:64]) == WEBM
    assert sniff(webm[:4] + b"\x00" * 64 + b"webm") is None


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("image/jpeg", JPEG),
        ("image/jpg", JPEG),
        ("image/pjpeg", JPEG),
        ("IMAGE/PNG", PNG),
        ("image/webp; charset=binary", WEBP),
        ("video/quicktime", MOV),
        ("video/x-m4v", M4V),
        ("image/svg+xml", None),
        ("text/html", None),
        ("application/octet-stream", None),
        ("", None),
        (None, None),
    ],
)
def test_declared_type(declared: str | None, expected: Sniffed | None) -> None:
    assert declared_type(declared) == expected


def test_every_allowed_type_declares_itself() -> None:
    for content_type, kind in ALLOWED_UPLOAD_TYPES.items():
        assert declared_type(content_type) == kind
        assert kind.content_type == content_type
