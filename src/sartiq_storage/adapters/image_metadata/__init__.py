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
* HEIF/AVIF: ``Exif``, ``mime`` (XMP) and ``uri`` items, item properties that do not describe
  pixels (``udes``…), XML boxes, top-level boxes other than the image's own, ``mdat`` bytes no
  item refers to.

:func:`strip` removes the findings of JPEG, PNG, WebP, GIF, HEIF and AVIF without decoding a
pixel (the coded image data is copied as it is); TIFF is re-encoded instead (:func:`clean`).
One module a format: ``_jpeg``, ``_png``, ``_webp``, ``_gif``, ``_heif``, and ``_exif`` for the
EXIF and TIFF structures they share.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from sartiq_storage.adapters.image_metadata._common import Parts
from sartiq_storage.adapters.image_metadata._exif import exif_findings, tiff_findings
from sartiq_storage.adapters.image_metadata._gif import gif
from sartiq_storage.adapters.image_metadata._heif import heif_findings, heif_strip
from sartiq_storage.adapters.image_metadata._jpeg import jpeg
from sartiq_storage.adapters.image_metadata._png import png
from sartiq_storage.adapters.image_metadata._webp import webp
from sartiq_storage.adapters.media_probe import HEIF_EXTENSIONS, MediaProbeError, rewrite_image
from sartiq_storage.core.sniff import SNIFF_BYTES, sniff

__all__ = ["STRIPPABLE", "clean", "exif_findings", "findings", "strip"]

STRIPPABLE = frozenset({"jpg", "png", "webp", "gif"}) | HEIF_EXTENSIONS
"""Formats whose metadata :func:`strip` removes without re-encoding."""

_WALKERS: dict[str, Callable[[bytes], tuple[list[str], Parts]]] = {
    "jpg": jpeg,
    "png": png,
    "webp": webp,
    "gif": gif,
}
_UNREADABLE = (ValueError, IndexError, KeyError, struct.error)


def findings(data: bytes, extension: str) -> list[str]:
    """Every metadata container in ``data`` that is not provably harmless (empty: store as
    is). A structure that cannot be walked is itself a finding: the bytes are then cleaned."""
    try:
        if extension in _WALKERS:
            return _WALKERS[extension](data)[0]
        if extension == "tiff":
            return tiff_findings(data, file=True)
        if extension in HEIF_EXTENSIONS:
            return heif_findings(data)
    except _UNREADABLE as exc:
        return [f"unreadable {extension} structure ({exc})"]
    return []


def strip(data: bytes, extension: str) -> bytes:
    """``data`` without its metadata blocks, every coded pixel byte as it was (only for
    :data:`STRIPPABLE` formats). Also drops harmless EXIF: the caller strips only an image
    that needs no rotation."""
    try:
        if extension in HEIF_EXTENSIONS:
            return heif_strip(data)
        return b"".join(_WALKERS[extension](data)[1])
    except _UNREADABLE as exc:
        raise MediaProbeError(f"metadata could not be removed: {exc}") from None


def clean(data: bytes, extension: str, *, rotate: bool) -> tuple[bytes, bool]:
    """Bytes that hold no finding, and whether they were re-encoded.

    Without a rotation to apply, a strippable format loses its metadata blocks and keeps its
    encoded pixels; otherwise (or when a HEIF's structure is one :func:`strip` cannot
    rebuild) libvips re-encodes upright (:func:`rewrite_image`). Either way the result is
    walked again, and refused if anything is left: what is stored is proven clean, not
    assumed to be.
    """
    reencoded = rotate or extension not in STRIPPABLE
    out = b""
    if not reencoded:
        try:
            out = strip(data, extension)
        except MediaProbeError:
            if extension not in HEIF_EXTENSIONS:
                raise
            reencoded = True
    if reencoded:
        out = rewrite_image(data, extension)
    kind = sniff(out[:SNIFF_BYTES])
    out_extension = kind.extension if kind is not None else extension
    left = findings(out, out_extension)
    if left and out_extension in STRIPPABLE:
        out = strip(out, out_extension)
        left = findings(out, out_extension)
    if left:
        raise MediaProbeError(f"metadata could not be removed: {', '.join(left)}")
    return out, reencoded
