"""Decide what a file is from its first bytes, never from what the client claimed.

Only the formats the platform accepts are recognised; anything else (SVG, HTML, archives,
executables, Matroska that is not WebM…) is ``None`` and refused at ingestion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SNIFF_BYTES = 4096
"""How many leading bytes :func:`sniff` needs at most."""


@dataclass(frozen=True, slots=True)
class Sniffed:
    content_type: str
    extension: str
    resource_type: Literal["IMAGE", "VIDEO"]


JPEG = Sniffed("image/jpeg", "jpg", "IMAGE")
PNG = Sniffed("image/png", "png", "IMAGE")
GIF = Sniffed("image/gif", "gif", "IMAGE")
WEBP = Sniffed("image/webp", "webp", "IMAGE")
AVIF = Sniffed("image/avif", "avif", "IMAGE")
HEIC = Sniffed("image/heic", "heic", "IMAGE")
TIFF = Sniffed("image/tiff", "tiff", "IMAGE")
MP4 = Sniffed("video/mp4", "mp4", "VIDEO")
M4V = Sniffed("video/x-m4v", "m4v", "VIDEO")
MOV = Sniffed("video/quicktime", "mov", "VIDEO")
WEBM = Sniffed("video/webm", "webm", "VIDEO")

ALLOWED_UPLOAD_TYPES: dict[str, Sniffed] = {
    s.content_type: s for s in (JPEG, PNG, GIF, WEBP, AVIF, HEIC, TIFF, MP4, M4V, MOV, WEBM)
}
"""Content types a client may declare for an upload (``image/jpg`` is accepted as JPEG)."""

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_MP4_BRANDS = {
    b"isom",
    b"iso2",
    b"iso4",
    b"iso5",
    b"iso6",
    b"mp41",
    b"mp42",
    b"avc1",
    b"dash",
    b"mmp4",
    b"MSNV",
    b"f4v ",
}


def _ftyp(head: bytes) -> Sniffed | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    end = min(len(head), size if 16 <= size <= 4096 else 64)
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    brands = {major, *compatible}
    if major in (b"avif", b"avis") or (major == b"mif1" and b"avif" in brands):
        return AVIF
    if brands & _HEIF_BRANDS or major in (b"mif1", b"msf1"):
        return HEIC
    if major == b"qt  ":
        return MOV
    if major in (b"M4V ", b"M4VH", b"M4VP"):
        return M4V
    if major in _MP4_BRANDS or brands & _MP4_BRANDS:
        return MP4
    return None


def sniff(head: bytes) -> Sniffed | None:
    """The type of a file whose first bytes are ``head``, or None when not an accepted one."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if len(head) >= 12 and head[0:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return WEBM if b"webm" in head[:64] else None
    return _ftyp(head)


def declared_type(content_type: str | None) -> Sniffed | None:
    """The accepted type a client's declared Content-Type names, if any."""
    if not content_type:
        return None
    base = content_type.split(";", 1)[0].strip().lower()
    if base in ("image/jpg", "image/pjpeg"):
        base = "image/jpeg"
    return ALLOWED_UPLOAD_TYPES.get(base)
