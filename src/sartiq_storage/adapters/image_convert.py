"""Format conversion with pyvips, safe by default.

* decompression bombs are refused from the header, before any pixel is decoded;
* animated GIF/WebP stay animated when the target format can animate (GIF, WebP);
* EXIF orientation is applied, ICC profiles are converted to sRGB, and metadata (EXIF, GPS,
  XMP) is stripped from the output;
* a conversion that runs past its time budget is killed;
* it holds one of the process's decode slots (``STORAGE_MAX_CONCURRENT_DECODES``): when all
  are busy past the wait, :class:`~sartiq_storage.core.errors.DecodersBusyError` (503).
"""

from __future__ import annotations

import time

from sartiq_storage.adapters.media_probe import (
    MAX_PIXELS,
    DecompressionBombError,
    MediaProbeError,
    upright,
)
from sartiq_storage.adapters.vips import DECODES, pyvips

FORMATS: dict[str, tuple[str, str]] = {
    "webp": (".webp[Q=82,effort=3]", "image/webp"),
    "jpeg": (".jpg[Q=85,optimize_coding]", "image/jpeg"),
    "png": (".png[compression=6]", "image/png"),
    "avif": (".avif[Q=55,effort=2]", "image/avif"),
    "gif": (".gif", "image/gif"),
}
"""Target format → (pyvips save suffix, content type)."""

EXTENSIONS = {"webp": "webp", "jpeg": "jpg", "png": "png", "avif": "avif", "gif": "gif"}
ANIMATED_TARGETS = {"gif", "webp"}
MAX_FRAMES = 500


class ConversionTimeoutError(MediaProbeError):
    """The conversion ran past its time budget and was stopped."""

    status = 503


def _kill_after(image: pyvips.Image, seconds: float) -> None:
    deadline = time.monotonic() + seconds

    def on_eval(img: pyvips.Image, progress: object) -> None:
        if time.monotonic() > deadline:
            img.set_kill(True)

    image.set_progress(True)
    image.signal_connect("eval", on_eval)


def convert(
    data: bytes,
    target: str,
    *,
    max_pixels: int = MAX_PIXELS,
    timeout: float = 20.0,
) -> bytes:
    """``data`` re-encoded as ``target`` (a key of :data:`FORMATS`)."""
    if target not in FORMATS:
        raise ValueError(f"unknown target format {target!r}")
    try:
        header = pyvips.Image.new_from_buffer(data, "", access="sequential")
    except pyvips.Error as exc:
        raise MediaProbeError(f"not a readable image: {str(exc).splitlines()[0]}") from None
    fields = header.get_fields()
    pages = header.get("n-pages") if "n-pages" in fields else 1
    page_height = header.get("page-height") if "page-height" in fields else header.height
    if header.width * page_height > max_pixels:
        raise DecompressionBombError(
            f"image is {header.width}×{page_height} pixels, over the {max_pixels:,} pixel limit"
        )
    animated = pages > 1 and target in ANIMATED_TARGETS
    if animated and (pages > MAX_FRAMES or header.width * page_height * pages > 4 * max_pixels):
        raise DecompressionBombError(f"animation of {pages} frames is over the frame budget")
    try:
        with DECODES.held():
            return _encode(data, target, animated=animated, timeout=timeout)
    except pyvips.Error as exc:
        message = str(exc).splitlines()[0]
        if "killed" in str(exc).lower() or "cancel" in str(exc).lower():
            raise ConversionTimeoutError(f"conversion took longer than {timeout:g} s") from None
        raise MediaProbeError(f"conversion failed: {message}") from None


def _encode(data: bytes, target: str, *, animated: bool, timeout: float) -> bytes:
    """The conversion itself: pixels stream from the decoder to the encoder where the target
    allows it (JPEG, PNG); a rotation never holds the whole image (:func:`upright`)."""
    suffix, _ = FORMATS[target]
    if animated:
        image = pyvips.Image.new_from_buffer(data, "", n=-1, access="sequential")
        _kill_after(image, timeout)
        return bytes(image.write_to_buffer(suffix, keep="none"))
    with upright(data) as image:
        if "icc-profile-data" in image.get_fields():
            image = image.icc_transform("srgb", embedded=True, intent="perceptual")
        elif image.interpretation not in ("srgb", "b-w"):
            image = image.colourspace("srgb")
        if target == "jpeg" and image.hasalpha():
            image = image.flatten(background=[255, 255, 255])
        _kill_after(image, timeout)
        return bytes(image.write_to_buffer(suffix, keep="none"))
