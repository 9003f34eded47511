"""Read what an image or a video is: dimensions, dominant colour, colour profile, duration.

pyvips for images (lazy: the header is read before any pixel, so a decompression bomb is
refused by its declared size), PyAV for videos.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import compress
from typing import TYPE_CHECKING, BinaryIO

from sartiq_storage.adapters.vips import DECODES, pyvips
from sartiq_storage.core.errors import StorageError

if TYPE_CHECKING:
    import av
    import av.container
    import av.video.stream

MAX_PIXELS = 100_000_000
"""Images larger than this (width × height, per frame) are refused before decoding."""


class MediaProbeError(StorageError):
    """The bytes could not be read as the media type they claim to be."""

    status = 415


class DecompressionBombError(MediaProbeError):
    """An image whose declared size exceeds :data:`MAX_PIXELS`."""

    status = 422


@dataclass(frozen=True, slots=True)
class MediaMetadata:
    width: int | None = None
    height: int | None = None
    dominant_color: str | None = None
    color_profile: str | None = None
    duration: float | None = None
    orientation: int = 1
    """EXIF orientation of the stored bytes (width and height above are already upright)."""
    has_location: bool = False
    """GPS tags in EXIF or XMP: the photo says where it was taken."""
    codec: str | None = None
    """A video's codec as FFmpeg names it (``h264``, ``vp9``, ``mpeg4``…)."""
    frame_rate: float | None = None
    """A video's average frame rate, frames per second."""

    @property
    def needs_rewrite(self) -> bool:
        """Stored as uploaded, this image would be served sideways or with its location."""
        return self.has_location or self.orientation not in (0, 1)


def icc_description(profile: bytes) -> str | None:
    """The ``desc`` tag of an ICC profile (v2 ``desc`` or v4 ``mluc``), if readable."""
    try:
        (count,) = struct.unpack_from(">I", profile, 128)
        for i in range(min(count, 100)):
            sig, offset, size = struct.unpack_from(">4sII", profile, 132 + 12 * i)
            if sig != b"desc":
                continue
            data = profile[offset : offset + size]
            kind = data[0:4]
            if kind == b"desc":
                (length,) = struct.unpack_from(">I", data, 8)
                text = data[12 : 12 + length].split(b"\x00", 1)[0].decode("latin-1")
                return text.strip() or None
            if kind == b"mluc":
                records, _record_size = struct.unpack_from(">II", data, 8)
                if records:
                    rec_len, rec_off = struct.unpack_from(">II", data, 16 + 4)
                    text = data[rec_off : rec_off + rec_len].decode("utf-16-be", "replace")
                    return text.strip("\x00 ") or None
    except (struct.error, UnicodeDecodeError):
        return None
    return None


THUMBNAIL = 32
"""Side of the thumbnail the dominant colour is read from: the field needs no more."""

HEIF_EXTENSIONS = frozenset({"heic", "avif"})
"""The ISO BMFF image formats: one container, libheif for both."""

HEIF_DECODE_PIXELS = 16_000_000
"""Largest HEIF or AVIF image decoded whole for its dominant colour. libheif has no reduced
decode and holds about 15 bytes a pixel while decoding (+1.5 GB at 100 megapixels), so above
this (about 240 MB) an image without an embedded thumbnail keeps no dominant colour: the
field is optional, a memory spike of gigabytes is not (``docs/decisions.md``)."""


def heif_colour_decodable(width: int, height: int) -> bool:
    """Whether a HEIF or AVIF of this size may be decoded whole for its colour."""
    return width * height <= HEIF_DECODE_PIXELS


@dataclass(frozen=True, slots=True)
class DecodePlan:
    """What the colour decode needs to know of an image's header (its loader, size, bands and
    sample format), taken from the header read that checked the image: the decode then reads
    no header of its own a second time (:func:`dominant_color`'s ``plan``)."""

    loader: str
    width: int
    height: int
    bands: int
    format: str

    @classmethod
    def of(cls, header: pyvips.Image) -> DecodePlan:
        # One field asked by name: ``get_fields`` converts every name (thirty-odd C calls,
        # each releasing the GIL that sixteen request threads contend for).
        loader = header.get("vips-loader") if header.get_typeof("vips-loader") else ""
        return cls(loader, header.width, header.height, header.bands, header.format)


def _dominant_color(data: bytes, header: pyvips.Image | DecodePlan | None = None) -> str | None:
    """The dominant colour of a small thumbnail of ``data`` (see :func:`dominant_of`).

    Decoded at reduced size (JPEG DCT scaling, WebP scaled loads, a HEIF's or AVIF's own
    thumbnail when it carries one of at least 32 px: ``thumbnail`` picks it), from the bytes
    in place (a ``*_buffer`` call copies them first). A HEIF or AVIF without one is decoded
    whole by libheif, which has no reduced decode: +750 MB at 48 megapixels, +1.5 GB at 100.
    An RGB or grey JPEG whose ``header`` was read already skips ``thumbnail``'s second header
    read, its rotation and its Lanczos resize: a box shrink of the scaled decode gives the same
    colour (``tests/adapters/test_media_probe.py``) for a fifth less time; an 8-bit PNG
    (no reduced decode) is box-shrunk from its sequential decode the same way. A HEIF or AVIF
    over :data:`HEIF_DECODE_PIXELS` whose thumbnail is missing (or as big) gets None.
    """
    if isinstance(header, pyvips.Image):
        header = DecodePlan.of(header)
    reduced = _reduced(data, header)
    if reduced is not None:
        return dominant_of(reduced)
    source = pyvips.Source.new_from_memory(data)
    if (
        header is not None
        and _heif(header)
        and not heif_colour_decodable(header.width, header.height)
    ):
        smallest = pyvips.Image.heifload_source(source, thumbnail=True)
        if not heif_colour_decodable(smallest.width, smallest.height):
            return None
    return dominant_of(pyvips.Image.thumbnail_source(source, THUMBNAIL, height=THUMBNAIL))


def _reduced(data: bytes, header: pyvips.Image | DecodePlan | None) -> pyvips.Image | None:
    """The box-shrunk thumbnail of an RGB or grey JPEG or an 8-bit PNG (see
    :func:`_dominant_color`), as a pipeline not yet run: its header is read, no pixel is
    decoded until it is written. None for any other image (or no ``header``)."""
    if isinstance(header, pyvips.Image):
        header = DecodePlan.of(header)
    if header is not None and _plain_jpeg(header):
        side = min(header.width, header.height)
        scale = next((s for s in (8, 4, 2) if side // s >= THUMBNAIL), 1)
        source = pyvips.Source.new_from_memory(data)
        loaded = pyvips.Image.jpegload_source(source, shrink=scale, access="sequential")
        return _box_shrunk(loaded)
    if header is not None and _plain_png(header):
        source = pyvips.Source.new_from_memory(data)
        loaded = pyvips.Image.pngload_source(source, access="sequential")
        if loaded.hasalpha():  # onto white first, as dominant_of does: no hidden colour bleeds
            loaded = loaded.flatten(background=[255])
        return _box_shrunk(loaded)
    return None


def _box_shrunk(image: pyvips.Image) -> pyvips.Image:
    """``image`` box-shrunk to about :data:`THUMBNAIL` on its short side, row by row."""
    factor = min(image.width, image.height) // THUMBNAIL
    return image.shrink(factor, factor) if factor > 1 else image


def _heif(header: DecodePlan) -> bool:
    return header.loader.startswith("heifload")


def _plain_png(header: DecodePlan) -> bool:
    """An 8-bit PNG: no reduced decode exists (one deflate stream, each row filtered against
    the one above), so every pixel is inflated whatever is asked; ``thumbnail`` then spent
    more again on its Lanczos resize than the decode itself (``docs/decisions.md``). A box
    shrink of the sequential decode gives the same colour for about half the time. 16-bit
    PNGs keep ``thumbnail`` (its flatten and cast handle their range)."""
    return header.loader.startswith("pngload") and header.format == "uchar"


def _plain_jpeg(header: DecodePlan) -> bool:
    """RGB or grey JPEG (a CMYK one takes ``thumbnail``'s conversion). Neither path applies
    an embedded colour profile: ``thumbnail`` does not unless asked to."""
    return header.loader.startswith("jpegload") and header.bands in (1, 3)


def dominant_of(image: pyvips.Image) -> str:
    """The most common colour of ``image`` after coarse quantisation (16 levels a channel),
    averaged within its bucket; transparency is flattened onto white."""
    return _dominant_of_pixels(bytes(_rgb(image).write_to_memory()))


def _rgb(image: pyvips.Image) -> pyvips.Image:
    """``image`` as 8-bit sRGB, three bands, flattened onto white (a pipeline, not run)."""
    small = image
    if small.hasalpha():
        small = small.flatten(background=[255, 255, 255])
    if small.interpretation not in ("srgb", "b-w") or small.format != "uchar":
        small = small.colourspace("srgb").cast("uchar")
    if small.bands == 1:
        small = small.bandjoin([small, small])
    if small.bands != 3:  # three bands already: the extract would copy them as they are
        small = small.extract_band(0, n=3)
    return small


def _dominant_of_pixels(raw: bytes) -> str:
    """:func:`dominant_of` of the pixels ``raw`` (8-bit RGB, interleaved)."""
    # Quantised, counted and averaged in C (translate, zip, Counter, int masks, compress)
    # rather than pixel by pixel in Python: the same colour, a quarter less time.
    quantised = raw.translate(_QUANTISE)
    channels = quantised[0::3], quantised[1::3], quantised[2::3]
    best = Counter(zip(*channels, strict=True)).most_common(1)[0][0]
    # One byte a pixel, 1 where all three channels fall in the best bucket.
    chosen = int.from_bytes(channels[0].translate(_ONLY[best[0]]), "big")
    chosen &= int.from_bytes(channels[1].translate(_ONLY[best[1]]), "big")
    chosen &= int.from_bytes(channels[2].translate(_ONLY[best[2]]), "big")
    mask = chosen.to_bytes(len(channels[0]), "big")
    count = mask.count(1)
    r, g, b = (round(sum(compress(raw[c::3], mask)) / count) for c in range(3))
    return f"#{r:02x}{g:02x}{b:02x}"


_QUANTISE = bytes(value >> 4 for value in range(256))
"""Each 8-bit sample's bucket: 16 levels a channel."""
_ONLY = [bytes(int(sample == bucket) for sample in range(256)) for bucket in range(16)]
"""For each bucket, a table that maps a quantised sample to 1 in that bucket, else 0."""


_DESCRIBED = ("page-height", "n-pages", "orientation", "xmp-data", "icc-profile-data")
"""The header fields :func:`_describe` reads by name."""


def _fields(image: pyvips.Image) -> Collection[str]:
    """The header fields :func:`_describe` needs to know of: every field when the image
    carries EXIF (its GPS fields are found by prefix), else only those it reads by name.

    libvips names EXIF tags (``exif-ifd3-GPS…``) only by parsing an ``exif-data`` blob, so
    without one there is none to find; asking a few names spares ``get_fields``, which
    converts every name the header has (thirty-odd C calls for a plain JPEG, each releasing
    the GIL that concurrent ingests contend for).
    """
    if image.get_typeof("exif-data"):
        every: list[str] = image.get_fields()
        return every
    return [name for name in _DESCRIBED if image.get_typeof(name)]


def _describe(image: pyvips.Image, *, max_pixels: int) -> MediaMetadata:
    """What a loaded image's header says: upright dimensions, profile, orientation, location.

    Refuses an image over ``max_pixels`` per frame before any pixel is decoded.
    """
    fields = _fields(image)
    width, height = image.width, image.height
    page_height = image.get("page-height") if "page-height" in fields else height
    if width * page_height > max_pixels:
        raise DecompressionBombError(
            f"image is {width}×{page_height} pixels, over the {max_pixels:,} pixel limit"
        )
    if "n-pages" in fields and image.get("n-pages") > 1:
        height = page_height
    orientation = int(image.get("orientation")) if "orientation" in fields else 1
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    location = any(f.startswith("exif-ifd3-GPS") for f in fields)
    if not location and "xmp-data" in fields:
        location = b"GPS" in bytes(image.get("xmp-data"))
    profile = None
    if "icc-profile-data" in fields:
        profile = icc_description(image.get("icc-profile-data"))
    return MediaMetadata(
        width, height, None, profile or "sRGB", orientation=orientation, has_location=location
    )


REWRITE_SAVERS = {
    "jpg": ".jpg[Q=95]",
    "png": ".png",
    "webp": ".webp[Q=95]",
    "tiff": ".tif[compression=deflate]",  # lossless; uncompressed would balloon an LZW upload
}
"""Formats a rewritten image keeps; any other (HEIC, AVIF, GIF) is rewritten as JPEG."""


IN_MEMORY_ROTATION = 64 * 1024 * 1024
"""Decoded bytes above which a rotation goes through a tiled temporary file, not memory."""


@contextmanager
def upright(data: bytes) -> Iterator[pyvips.Image]:
    """``data`` as an upright image whose pixels are never all in memory at once when big.

    No rotation: a sequential load (pixels stream through). A rotation of more than
    :data:`IN_MEMORY_ROTATION` decoded bytes: the pixels stream into a tiled TIFF in a
    temporary folder, which libvips then reads tile by tile in the rotated order (a
    100-megapixel rotation held 390 MB in memory, about 140 MB this way). Smaller ones rotate
    in memory. The colour profile is kept; other metadata is not carried.
    """
    image = pyvips.Image.new_from_buffer(data, "", access="sequential")
    fields = image.get_fields()
    orientation = int(image.get("orientation")) if "orientation" in fields else 1
    if orientation in (0, 1, 2):  # a mirror is row by row: sequential still
        yield image.autorot() if orientation == 2 else image
        return
    decoded = image.width * image.height * image.bands * _SAMPLE_BYTES.get(image.format, 8)
    if decoded <= IN_MEMORY_ROTATION:
        yield pyvips.Image.new_from_buffer(data, "").autorot()
        return
    with tempfile.TemporaryDirectory(prefix="sartiq-rotate-") as folder:
        path = os.path.join(folder, "pixels.tif")
        image.tiffsave(path, tile=True, tile_width=256, tile_height=256, bigtiff=True, keep="none")
        tiled = pyvips.Image.tiffload(path, access="random").copy()
        tiled.set_type(pyvips.GValue.gint_type, "orientation", orientation)
        if "icc-profile-data" in fields:
            profile = image.get("icc-profile-data")
            tiled.set_type(pyvips.GValue.blob_type, "icc-profile-data", profile)
        yield tiled.autorot()


_SAMPLE_BYTES = {"uchar": 1, "char": 1, "ushort": 2, "short": 2, "uint": 4, "int": 4, "float": 4}


def rewrite_image(data: bytes, extension: str) -> bytes:
    """Upright, without GPS or any other EXIF/XMP/IPTC metadata, colour profile kept.

    What the platform stores and serves for a photo that carried its metadata or relied on
    an EXIF rotation: browsers and CDNs disagree on honouring the tag, and the location is
    the photographer's private data. ``extension`` is the upload's; the new bytes are in
    the same format where :data:`REWRITE_SAVERS` has it, else JPEG. Holds a decode slot.
    """
    saver = REWRITE_SAVERS.get(extension, ".jpg[Q=95]")
    try:
        with DECODES.held(), upright(data) as image:
            out = image.write_to_buffer(saver, keep="icc")
    except pyvips.Error as exc:
        raise MediaProbeError(f"image could not be rewritten: {str(exc).splitlines()[0]}") from None
    return bytes(out)


def _header(data: bytes) -> pyvips.Image:
    """``data``'s header, read from the bytes in place (a buffer load would copy them)."""
    try:
        source = pyvips.Source.new_from_memory(data)
        return pyvips.Image.new_from_source(source, "", access="sequential")
    except pyvips.Error as exc:
        raise MediaProbeError(f"not a readable image: {str(exc).splitlines()[0]}") from None


def _colour_of(data: bytes, header: pyvips.Image | DecodePlan) -> str | None:
    """:func:`_dominant_color` in one of the process's decode slots.

    An RGB or grey JPEG or an 8-bit PNG holds its slot only while its pixels are decoded:
    the pipeline (its header read, a few kilobytes) is built before, and the thumbnail's
    colour counted after. Under sixteen concurrent ingests a slot was otherwise held through
    dozens of calls into libvips, each giving the GIL up and waiting to take it back, and
    the two slots decoded about one and a half images at a time. Any other image keeps its
    slot from its first call into libvips to its last.
    """
    if isinstance(header, pyvips.Image):  # once, for both looks at it below
        header = DecodePlan.of(header)
    try:
        reduced = _reduced(data, header)
        if reduced is None:
            with DECODES.held():
                return _dominant_color(data, header)
        pixels = _rgb(reduced)
        with DECODES.held():
            raw = bytes(pixels.write_to_memory())
    except pyvips.Error as exc:
        raise MediaProbeError(f"image data is damaged: {str(exc).splitlines()[0]}") from None
    return _dominant_of_pixels(raw)


def dominant_color(
    data: bytes, *, max_pixels: int = MAX_PIXELS, plan: DecodePlan | None = None
) -> str | None:
    """The dominant colour of an image whose header was checked already (ingest reads it
    first): the reduced decode alone, in one of the process's decode slots. Raises
    :class:`MediaProbeError` when the pixels do not decode. Without ``plan`` the header is
    read again and a bomb refused again (the bytes may be another image's than the header
    checked, e.g. a rewrite); ``plan``: the header read of these very bytes
    (:func:`probe_image_header_plan`), which checked them already."""
    if plan is None:
        header = _header(data)
        _describe(header, max_pixels=max_pixels)
        return _colour_of(data, header)
    return _colour_of(data, plan)


def probe_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> MediaMetadata:
    image = _header(data)
    metadata = _describe(image, max_pixels=max_pixels)
    return replace(metadata, dominant_color=_colour_of(data, image))


HEADER_LOADERS = {
    "jpg": "jpegload_buffer",
    "png": "pngload_buffer",
    "gif": "gifload_buffer",
    "webp": "webpload_buffer",
    "avif": "heifload_buffer",
    "heic": "heifload_buffer",
    "tiff": "tiffload_buffer",
}
"""The loader for each sniffed type: called directly, libvips does not guess again (a fifth
of a header read went to asking every loader whether the bytes were its own)."""


def probe_image_header(
    prefix: bytes | memoryview, *, max_pixels: int = MAX_PIXELS, extension: str | None = None
) -> MediaMetadata:
    """:func:`probe_image_header_plan` without the plan."""
    return probe_image_header_plan(prefix, max_pixels=max_pixels, extension=extension)[0]


def probe_image_header_plan(
    prefix: bytes | memoryview, *, max_pixels: int = MAX_PIXELS, extension: str | None = None
) -> tuple[MediaMetadata, DecodePlan]:
    """Dimensions and colour profile from the first bytes of an image, without decoding it.

    ``extension``: the type sniffed from the bytes; its loader alone reads them. Raises
    :class:`MediaProbeError` when the prefix does not hold the whole header (the caller then
    reads the full object) and :class:`DecompressionBombError` as :func:`probe_image` does.
    libvips copies what it is given, so pass the prefix (a memoryview spares a second copy),
    not a whole image. Also returns what the colour decode of these bytes needs of their
    header (:class:`DecodePlan`), so that it reads none again.
    """
    loader = HEADER_LOADERS.get(extension or "")
    try:
        if loader is None:
            image = pyvips.Image.new_from_buffer(prefix, "", access="sequential", fail=False)
        else:
            image = getattr(pyvips.Image, loader)(prefix, access="sequential", fail=False)
        return _describe(image, max_pixels=max_pixels), DecodePlan.of(image)
    except pyvips.Error as exc:
        raise MediaProbeError(f"header not readable: {str(exc).splitlines()[0]}") from None


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    stream = next((s for s in container.streams.video), None)
    if stream is None:
        raise MediaProbeError("no video stream")
    return stream


def _describe_video(container: av.container.InputContainer) -> MediaMetadata:
    stream = _video_stream(container)
    duration = None
    if container.duration is not None:
        duration = float(container.duration) / 1_000_000
    elif stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return MediaMetadata(
        stream.width or None,
        stream.height or None,
        duration=duration,
        codec=stream.codec_context.name or None,
        frame_rate=round(float(rate), 3) if rate else None,
    )


def probe_video_file(file: BinaryIO) -> MediaMetadata:
    """Duration, dimensions, codec and frame rate of the video in ``file``, a seekable
    binary file: the demuxer reads the container's index and headers where they lie (a
    :class:`~sartiq_storage.adapters.stores.ranged.RangedReader` over the store), never the
    whole file. No frame is decoded beyond what the stream-info probe needs."""
    import av

    try:
        with av.open(file, mode="r") as container:
            return _describe_video(container)
    except MediaProbeError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise MediaProbeError(f"not a readable video: {exc}") from None


def read_video(
    file: BinaryIO, saver: str, *, max_pixels: int = MAX_PIXELS
) -> tuple[MediaMetadata, bytes | None, str | None]:
    """:func:`probe_video_file` and :func:`poster_frame` from one opening of the container:
    its index is read once (on a store, half the ranged GETs of the two apart). Returns the
    metadata, the poster (None when it could not be made) and why not."""
    import av

    try:
        with av.open(file, mode="r") as container:
            metadata = _describe_video(container)
            try:
                with DECODES.held():
                    return metadata, _first_keyframe(container, saver, max_pixels), None
            except StorageError as exc:  # not decodable, too big, or every decoder busy
                return metadata, None, str(exc)
            except (av.FFmpegError, OSError, ValueError, EOFError, pyvips.Error) as exc:
                return metadata, None, f"no poster frame: {str(exc).splitlines()[0]}"
    except MediaProbeError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise MediaProbeError(f"not a readable video: {exc}") from None


def probe_video(data: bytes) -> MediaMetadata:
    """:func:`probe_video_file` for a video already in memory (a small upload)."""
    return probe_video_file(io.BytesIO(data))


POSTER_SIDE = 1280
"""Longest side of a poster frame: enough for a grid tile or a player's poster, and a 4K
frame is not kept at full size for that."""


def poster_frame(
    file: BinaryIO,
    saver: str = ".webp[Q=82]",
    *,
    max_side: int = POSTER_SIDE,
    max_pixels: int = MAX_PIXELS,
) -> bytes:
    """The first keyframe of the video in ``file``, scaled to ``max_side``, encoded by the
    pyvips ``saver`` suffix (``image_convert.FORMATS`` has one for each ``?type=``).

    Only keyframes are decoded (the decoder skips the rest), so this reads the headers and
    the first keyframe's packets: a few ranged reads on a big file. A frame over
    ``max_pixels`` is refused before decoding, as an image would be. Holds a decode slot.
    """
    import av

    try:
        with DECODES.held(), av.open(file, mode="r") as container:
            return _first_keyframe(container, saver, max_pixels, max_side)
    except MediaProbeError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError, pyvips.Error) as exc:
        raise MediaProbeError(f"no poster frame: {str(exc).splitlines()[0]}") from None


def _first_keyframe(
    container: av.container.InputContainer,
    saver: str,
    max_pixels: int,
    max_side: int = POSTER_SIDE,
) -> bytes:
    """The first keyframe of the video, scaled and encoded (see :func:`poster_frame`)."""
    stream = _video_stream(container)
    width, height = stream.width or 0, stream.height or 0
    if width * height > max_pixels:
        raise DecompressionBombError(
            f"video is {width}×{height} pixels, over the {max_pixels:,} pixel limit"
        )
    stream.codec_context.skip_frame = "NONKEY"
    frame = next(iter(container.decode(stream)), None)
    if frame is None:
        raise MediaProbeError("the video has no decodable keyframe")
    scale = min(1.0, max_side / max(frame.width, frame.height))
    w, h = max(1, round(frame.width * scale)), max(1, round(frame.height * scale))
    rgb = frame.reformat(width=w, height=h, format="rgb24")
    plane = rgb.planes[0]
    raw = bytes(plane)
    if plane.line_size != w * 3:  # rows are padded for alignment: drop the padding
        raw = b"".join(
            raw[row * plane.line_size : row * plane.line_size + w * 3] for row in range(h)
        )
    image = pyvips.Image.new_from_memory(raw, w, h, 3, "uchar")
    return bytes(image.write_to_buffer(saver))


def probe(data: bytes, resource_type: str, *, max_pixels: int = MAX_PIXELS) -> MediaMetadata:
    if resource_type == "VIDEO":
        return probe_video(data)
    return probe_image(data, max_pixels=max_pixels)
