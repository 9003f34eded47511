"""Verify before promote: what an upload really is, checked from its bytes, with no database.

Named steps, each taking only what it needs (the store, the settings, the bytes):

* :func:`read_upload` — one GET: size limits, then :func:`sniff` the real type (never the
  client's claim) from the first bytes before the rest is read;
* :func:`header_metadata` — dimensions and profile from the image header, no pixel decoded;
* :func:`probe_metadata` — a full probe (dominant colour; a video's duration);
* :func:`needs_cleaning` — whether an image carries metadata (EXIF orientation or location,
  or anything :mod:`image_metadata` finds walking every byte, PNG chunks included);
* :func:`clean` — the privacy rewrite: upright, without the metadata;
* :func:`digests` — MD5 (the platform's ``content_hash``) and SHA-256 (confirms a dedup hit);
* :func:`with_colour` — the dominant colour (inline enrichment), decoded on a thread of its
  own from the bytes to be stored while the rest goes on.

:func:`verify` runs them in order for one upload and returns a :class:`Verified`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import BinaryIO

from sartiq_storage.adapters import image_metadata
from sartiq_storage.adapters.image_convert import FORMATS
from sartiq_storage.adapters.media_probe import (
    DecodePlan,
    DecompressionBombError,
    MediaMetadata,
    MediaProbeError,
    dominant_color,
    probe,
    probe_image_header,
    probe_image_header_plan,
    read_video,
)
from sartiq_storage.adapters.stores import ObjectInfo, ObjectStore
from sartiq_storage.adapters.stores.ranged import RangedReader
from sartiq_storage.core.errors import (
    ConflictError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StoreUnavailableError,
    UnsupportedMediaError,
    UploadMissingError,
    UploadTooLargeError,
)
from sartiq_storage.core.sniff import SNIFF_BYTES, Sniffed, sniff
from sartiq_storage.services import failpoints
from sartiq_storage.services.media.hashing import prefetched
from sartiq_storage.services.media.model import MediaInput, MediaSettings

logger = logging.getLogger(__name__)

HEADER_BYTES = 256 * 1024
"""The prefix libvips parses for an image's header (dimensions, profile, pixel limit)."""
_READ_AT_ONCE = 16 * 1024 * 1024
"""Uploads up to this size are read in one buffer before they are sniffed; a larger one is
sniffed from its first chunks, and not read further unless it is an accepted type."""


@dataclass(frozen=True, slots=True)
class Upload:
    """An upload as read: the store's answer, its sniffed type and its bytes."""

    info: ObjectInfo
    kind: Sniffed
    data: bytes
    streamed: bool = False
    """A video too big to read at once: ``data`` is only its first bytes."""
    rest: Iterator[bytes] | None = None
    """A streamed video whose ETag is no MD5, read with ``keep_open``: the rest of the same
    GET, still open, for its streamed hash (:func:`streamed_upload_md5`, which reads it to
    its end or closes it)."""


@dataclass(frozen=True, slots=True)
class Verified:
    """An upload checked from its bytes, ready to be matched by hash or promoted."""

    key: str
    size: int
    md5: str
    sha256: str | None
    """None when not computed at ingest (deferred enrichment)."""
    kind: Sniffed
    metadata: MediaMetadata
    payload: bytes | None = None
    """The bytes to store instead of the upload's (an image rewritten upright, without its
    location); None to store the upload as it is, by server-side copy."""
    source: ObjectInfo | None = None
    """The upload as read: its copy is pinned to this ETag, and needs no second look."""
    poster: bytes | None = None
    """A video's poster frame (WebP), made while its container was open; written beside
    the promoted copy as its ``?type=webp`` derivative (``services/media/posters.py``)."""
    colour: Future[str | None] | None = None
    """The dominant colour still being decoded (inline enrichment, ``verify(colour_later=
    True)``): :func:`with_colour` puts it in ``metadata`` before anything is recorded."""


def read_upload(
    store: ObjectStore,
    key: str,
    max_file_size: int,
    max_video_size: int | None = None,
    *,
    keep_open: bool = False,
) -> Upload:
    """One GET (it does what HEAD + GET would): the size is checked before any of the body is
    read, the first bytes are sniffed, and what is not an accepted type is not read further
    than ``HEADER_BYTES`` when the upload is too big to read at once.

    A video above that size is not read further either: ``data`` is then only its first
    bytes (``Upload.streamed``), and the rest is read in ranges (:func:`verify_video`).
    ``max_video_size``: a video's limit (``max_file_size`` when not given), an image's
    staying ``max_file_size``. ``keep_open``: such a video whose ETag is no MD5 keeps the
    GET open (``Upload.rest``), so its hash reads the rest of these very bytes, with no
    second request (on a store that serves any GET by reading the whole object, as moto
    does, a whole read less).
    """
    video_limit = max_file_size if max_video_size is None else max_video_size
    try:
        stream = store.get(key)
    except ObjectNotFoundError:
        raise UploadMissingError(
            f"{key} does not exist (the upload expired, never finished, or was removed)"
        ) from None
    streamed = False
    rest: Iterator[bytes] | None = None
    try:
        info = stream.info
        limit = max(max_file_size, video_limit)
        if info.size > limit:
            raise UploadTooLargeError(f"{key} is {info.size} bytes, over the {limit} byte limit")
        if info.size == 0:
            raise UnsupportedMediaError(f"{key} is empty")
        failpoints.hit("ingest.headed")
        if info.size <= min(_READ_AT_ONCE, max_file_size):  # one buffer: no join, no copy
            data = stream.read()
            kind = sniff(data[:SNIFF_BYTES])
            _check_limit(info, kind, max_file_size, video_limit)
        else:  # sniffed from the first chunks: what is not accepted is not read further
            chunks = iter(stream)
            parts: list[bytes] = []
            for chunk in chunks:
                parts.append(chunk)
                if sum(len(part) for part in parts) >= HEADER_BYTES:
                    break
            head = b"".join(parts)
            kind = sniff(head[:SNIFF_BYTES])
            _check_limit(info, kind, max_file_size, video_limit)  # before the rest is read
            streamed = kind is not None and kind.resource_type == "VIDEO"
            accepted = kind is not None and not streamed
            data = b"".join([*parts, *chunks]) if accepted else head
            if streamed and keep_open and info.md5 is None:
                rest = chunks
    finally:
        if rest is None:
            stream.close()
    if kind is None:
        raise UnsupportedMediaError(
            f"{key} is not an accepted image or video (checked from its bytes)"
        )
    return Upload(info, kind, data, streamed, rest)


def _check_limit(
    info: ObjectInfo, kind: Sniffed | None, max_file_size: int, max_video: int
) -> None:
    """An image over ``max_file_size`` or a video over its own limit is refused."""
    if kind is None:
        return
    limit = max_video if kind.resource_type == "VIDEO" else max_file_size
    if info.size > limit:
        raise UploadTooLargeError(
            f"{info.key} is {info.size} bytes, over the {limit} byte limit of {kind.content_type}"
        )


POSTER_SAVER = FORMATS["webp"][0]
"""How ingest encodes a video's poster frame (its ``?type=webp`` derivative)."""


def probe_video_upload(
    store: ObjectStore,
    upload: Upload,
    settings: MediaSettings,
    hints: MediaInput | None = None,
    *,
    tail: bytes = b"",
) -> tuple[MediaMetadata, bytes | None]:
    """A video's metadata and poster frame (None when it could not be made).

    PyAV opens the container once for both: from memory for a small upload, else where it
    lies, through ranged GETs (:class:`RangedReader`, every request pinned to the upload's
    ETag, the sniffed prefix served without one, and so is ``tail``, the last bytes a
    streamed hash kept). ``hints``: the caller's width and height, kept when the container
    does not tell.
    """
    info = upload.info
    source: BinaryIO = (
        RangedReader(store, info, head=upload.data, tail=tail)  # no GET again for these
        if upload.streamed
        else io.BytesIO(upload.data)  # type: ignore[assignment]
    )
    try:
        metadata, poster, why = read_video(source, POSTER_SAVER, max_pixels=settings.max_pixels)
    except MediaProbeError as exc:
        raise UnsupportedMediaError(f"{info.key}: {exc}") from None
    except PreconditionFailedError:
        raise ConflictError(f"{info.key} changed while it was ingested") from None
    if poster is None:
        logger.warning("no poster frame for %s: %s", info.key, why)
    if hints is not None and metadata.width is None:
        metadata = replace(metadata, width=hints.width, height=hints.height)
    return metadata, poster


def video_verified(
    upload: Upload,
    metadata: MediaMetadata,
    poster: bytes | None,
    md5: str,
    sha256: str | None = None,
) -> Verified:
    """A video's :class:`Verified`, from its probe and its MD5."""
    failpoints.hit("ingest.hashed")
    info = upload.info
    return Verified(
        info.key, info.size, md5, sha256, upload.kind, metadata, None, info, poster=poster
    )


def verify_video(
    store: ObjectStore, upload: Upload, settings: MediaSettings, hints: MediaInput | None = None
) -> Verified:
    """A video, verified without holding it when it is big (:func:`probe_video_upload`).

    The MD5 of a big one is the ETag's when the store computed one from the bytes (a single
    PUT), else a streamed hash (a multipart ETag ``…-N`` is no MD5), from the rest of the
    sniffing GET when it was kept open, and then the probe reads the index at the end from
    the hash's tail. ``Ingestion.ingest_key`` does not come here for that one: it copies
    while it hashes (``promotion.promote_streaming``).
    SHA-256 of a big one is left to the dedup match, which computes it only on an MD5 hit.
    """
    if upload.rest is not None:  # hashed first: its tail spares the probe a GET for the index
        streamed = streamed_upload_md5(upload)
        metadata, poster = probe_video_upload(store, upload, settings, hints, tail=streamed.tail)
        return video_verified(upload, metadata, poster, streamed.md5)
    metadata, poster = probe_video_upload(store, upload, settings, hints)
    sha256: str | None = None
    info = upload.info
    if not upload.streamed:
        md5, sha256 = digests(upload.data)
    elif info.md5 is not None:
        md5 = info.md5
    else:
        md5 = streamed_md5(store, info)
    return video_verified(upload, metadata, poster, md5, sha256)


class HashCancelled(Exception):
    """A streamed hash stopped because its result is no longer wanted."""


TAIL_BYTES = 8 * 1024 * 1024
"""The last bytes a streamed hash keeps for the probe: an MP4's index at the end (a few
hundred KB for a 2 GB clip, about 1 MB an hour at 60 fps) is then read with no ranged GET,
which on a store that serves a range by reading the whole object (moto) is a whole read."""


@dataclass(frozen=True, slots=True)
class StreamedHash:
    """A streamed upload's MD5, and its last bytes (at most :data:`TAIL_BYTES`)."""

    md5: str
    tail: bytes


def streamed_upload_md5(upload: Upload, cancelled: threading.Event | None = None) -> StreamedHash:
    """The MD5 of a streamed upload: its sniffed first bytes, then the rest of the same GET,
    read ahead on a thread of its own: the bytes of the very object whose ETag was read.

    ``cancelled``: once set, the hash stops at the next chunk (:class:`HashCancelled`) and
    the GET is closed rather than read to its end."""
    assert upload.rest is not None, "a hash of the rest needs the GET kept open"
    info = upload.info
    digest = hashlib.md5(upload.data, usedforsecurity=False)
    size = len(upload.data)
    last: deque[bytes] = deque([upload.data])
    kept = len(upload.data)
    chunks = prefetched(upload.rest)
    try:
        for chunk in chunks:
            if cancelled is not None and cancelled.is_set():
                raise HashCancelled(info.key)
            digest.update(chunk)
            size += len(chunk)
            last.append(chunk)
            kept += len(chunk)
            while kept - len(last[0]) >= TAIL_BYTES:
                kept -= len(last.popleft())
    finally:
        chunks.close()
    if size != info.size:
        raise StoreUnavailableError(f"{info.key}: the body ended after {size} of {info.size} bytes")
    return StreamedHash(digest.hexdigest(), b"".join(last)[-TAIL_BYTES:])


def streamed_md5(store: ObjectStore, info: ObjectInfo) -> str:
    """The MD5 of the object ``info`` describes, read once as a stream (hashing one chunk
    while the next is read); :class:`ConflictError` if the key now holds other bytes."""
    digest = hashlib.md5(usedforsecurity=False)
    with store.get(info.key) as stream:
        if (stream.info.etag, stream.info.size) != (info.etag, info.size):
            raise ConflictError(f"{info.key} changed while it was ingested")
        for chunk in prefetched(iter(stream)):
            digest.update(chunk)
    return digest.hexdigest()


def header_metadata(key: str, data: bytes, kind: Sniffed, max_pixels: int) -> MediaMetadata | None:
    """Dimensions and profile from the header alone, no pixel decoded (None: unreadable):
    :func:`header_probe` without the decode plan."""
    probed = header_probe(key, data, kind, max_pixels)
    return None if probed is None else probed[0]


def header_probe(
    key: str, data: bytes, kind: Sniffed, max_pixels: int
) -> tuple[MediaMetadata, DecodePlan] | None:
    """Dimensions and profile from the header alone, no pixel decoded (None: unreadable),
    and the plan of the colour decode of these bytes (it then reads no header again).

    The prefix first (libvips copies its input); then every byte, which a HEIF or AVIF
    whose EXIF item sits after its pixels needs (libheif reads that item when it opens
    the file, and refuses a prefix). Probing such an image whole instead decoded it for
    its colour: +1.5 GB at 100 megapixels (issue 14).
    """
    parts: list[bytes | memoryview] = [data]
    if len(data) > HEADER_BYTES:
        parts.insert(0, memoryview(data)[:HEADER_BYTES])
    for part in parts:
        try:
            return probe_image_header_plan(part, max_pixels=max_pixels, extension=kind.extension)
        except DecompressionBombError as exc:
            raise UnsupportedMediaError(f"{key}: {exc}") from None
        except MediaProbeError:
            continue
    return None


def probe_metadata(key: str, data: bytes, kind: Sniffed, max_pixels: int) -> MediaMetadata:
    """Everything the codecs tell (an image decoded for its dominant colour, a video probed
    whole); what they cannot read is refused as unsupported."""
    try:
        return probe(data, kind.resource_type, max_pixels=max_pixels)
    except MediaProbeError as exc:
        raise UnsupportedMediaError(f"{key}: {exc}") from None


def needs_cleaning(data: bytes, kind: Sniffed, metadata: MediaMetadata) -> bool:
    """Whether an image must be rewritten before it is stored: metadata can hide anywhere in
    it, unseen by libvips, so every byte is walked."""
    return kind.resource_type == "IMAGE" and bool(
        metadata.needs_rewrite or image_metadata.findings(data, kind.extension)
    )


def clean(
    key: str, data: bytes, kind: Sniffed, metadata: MediaMetadata, settings: MediaSettings
) -> tuple[bytes, Sniffed, MediaMetadata]:
    """Store a photo upright and without its metadata (``docs/media.md``, privacy)."""
    try:
        rotate = metadata.orientation not in (0, 1)
        rewritten, reencoded = image_metadata.clean(data, kind.extension, rotate=rotate)
        if not reencoded:  # the same encoded pixels: dimensions and colours are unchanged
            return rewritten, kind, replace(metadata, has_location=False)
        new_kind = sniff(rewritten[:SNIFF_BYTES])
        if new_kind is None:
            raise MediaProbeError("the rewritten image is not an accepted type")
        # The colour, when wanted, is decoded once, from these bytes (:func:`verify`).
        metadata = probe_image_header(
            rewritten, max_pixels=settings.max_pixels, extension=new_kind.extension
        )
    except MediaProbeError as exc:
        raise UnsupportedMediaError(f"{key}: {exc}") from None
    return rewritten, new_kind, metadata


_COLOURS = ThreadPoolExecutor(32, thread_name_prefix="ingest-colour")
"""Where inline enrichment decodes colours while the ingest goes on (hash, lookup, copy);
the decode slots (``adapters/vips.DECODES``) still bound how many decode at once."""


def start_colour(
    data: bytes, max_pixels: int, plan: DecodePlan | None = None
) -> Future[str | None]:
    """The dominant colour of ``data``, decoding on a thread of its own (libvips drops the
    GIL): an ingest's hash, lookup and copy run meanwhile on a second core. ``plan``: from
    the header read that checked these very bytes (else the header is read again)."""
    return _COLOURS.submit(dominant_color, data, max_pixels=max_pixels, plan=plan)


def with_colour(verified: Verified) -> Verified:
    """``verified`` with its dominant colour in ``metadata``, once decoded; pixels that do not
    decode are refused (:class:`UnsupportedMediaError`), as the header check could not tell."""
    if verified.colour is None:
        return verified
    try:
        colour = verified.colour.result()
    except MediaProbeError as exc:
        raise UnsupportedMediaError(f"{verified.key}: {exc}") from None
    metadata = replace(verified.metadata, dominant_color=colour)
    return replace(verified, metadata=metadata, colour=None)


def digests(data: bytes) -> tuple[str, str]:
    """The bytes' MD5 (``content_hash``) and SHA-256, as hex."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest(), hashlib.sha256(data).hexdigest()


def verify(
    store: ObjectStore,
    key: str,
    settings: MediaSettings,
    hints: MediaInput | None = None,
    *,
    colour_later: bool = False,
) -> Verified:
    """Everything checked before anything is created (verify before promote).

    One GET reads the upload (:func:`read_upload`); dimensions and profile come from an
    image's header, every byte of it is walked for metadata, and a video is probed whole.
    With ``inline_enrichment`` (the default) the bytes are hashed (SHA-256; MD5 too unless a
    plain-MD5 ETag gives it, as the store computed it from these bytes) and the dominant
    colour decoded, once, from the bytes to be stored (a rewritten photo's, not the upload's
    and then again the rewrite's), on a thread of its own while the bytes are hashed. With
    ``colour_later`` it is left running in ``Verified.colour`` (the caller promotes
    meanwhile and calls :func:`with_colour` before recording); else it is awaited here.
    Without inline enrichment a plain-MD5 ETag is the content hash (the store computed it
    from the stored bytes) and the enrichment is left to ``heal``. ``hints``: the caller's
    width and height, kept when the bytes do not tell.
    """
    upload = read_upload(
        store, key, settings.max_file_size, settings.max_video_size, keep_open=True
    )
    return verify_upload(store, upload, settings, hints, colour_later=colour_later)


def verify_or_stream(
    store: ObjectStore,
    key: str,
    settings: MediaSettings,
    hints: MediaInput | None = None,
    *,
    colour_later: bool = False,
) -> Verified | Upload:
    """:func:`verify`, except for a big video whose MD5 must be streamed: that one comes back
    as its :class:`Upload`, its GET still open (``Upload.rest``), for the caller to copy,
    hash and probe at once (``promotion.promote_streaming``)."""
    upload = read_upload(
        store, key, settings.max_file_size, settings.max_video_size, keep_open=True
    )
    if upload.rest is not None:
        return upload
    return verify_upload(store, upload, settings, hints, colour_later=colour_later)


def verify_upload(
    store: ObjectStore,
    upload: Upload,
    settings: MediaSettings,
    hints: MediaInput | None = None,
    *,
    colour_later: bool = False,
) -> Verified:
    """:func:`verify`'s checks of an upload already read (:func:`read_upload`)."""
    if upload.kind.resource_type == "VIDEO":
        return verify_video(store, upload, settings, hints)
    key = upload.info.key
    info, kind, data = upload.info, upload.kind, upload.data
    # Hashing needs every byte; deferred enrichment hashes only what it must: a video or
    # a header past the prefix was read whole to be probed (as before), and an upload
    # without a plain-MD5 ETag has no other hash. An image read whole only for the
    # metadata walk keeps the ETag's MD5 (the walk proves the bytes need no change).
    hashed = settings.inline_enrichment or info.md5 is None
    metadata: MediaMetadata | None = None
    plan: DecodePlan | None = None
    # The header gives dimensions and profile at a fraction of a decode; the colour (inline
    # enrichment; deferred leaves it to heal) is decoded below from the bytes kept.
    if kind.resource_type == "IMAGE":
        probed = header_probe(key, data, kind, settings.max_pixels)
        if probed is not None:
            metadata, plan = probed
    if metadata is None:  # a header libvips reads only from a full probe: colour included
        hashed = True
        metadata = probe_metadata(key, data, kind, settings.max_pixels)
    payload: bytes | None = None
    if needs_cleaning(data, kind, metadata):
        payload, kind, metadata = clean(key, data, kind, metadata, settings)
        data = payload  # the hash covers the bytes stored and served
        plan = None  # other bytes than the header read: the decode checks them again
    colour: Future[str | None] | None = None
    if settings.inline_enrichment and metadata.dominant_color is None:
        colour = start_colour(data, settings.max_pixels, plan)
    sha256: str | None
    if payload is None and info.md5 is not None and settings.inline_enrichment:
        # The store hashed these very bytes (a plain-MD5 ETag): SHA-256 alone is new work.
        md5, sha256, size = info.md5, hashlib.sha256(data).hexdigest(), info.size
    elif hashed or payload is not None:  # else the ETag's MD5 stands
        md5, sha256 = digests(data)
        size = len(data)
    else:
        md5, sha256, size = info.md5 or "", None, info.size
    if hints is not None and metadata.width is None:
        metadata = replace(metadata, width=hints.width, height=hints.height)
    failpoints.hit("ingest.hashed")
    verified = Verified(key, size, md5, sha256, kind, metadata, payload, info, colour=colour)
    return verified if colour_later else with_colour(verified)
