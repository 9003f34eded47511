"""Poster frames: the picture a grid, a console tile or a player shows for a video.

A video's poster is its first keyframe, scaled to at most ``POSTER_SIDE`` and encoded as an
image. It is a derivative like any ``?type=`` conversion, under the key
:meth:`DeliveryService.derivative_key` gives the video for that format
(``derived/{fmt}/{video ETag}/media/{id}/file.{ext}.{fmt ext}``): so
``/files/{video key}?type=webp`` is the video's poster, served by the same route, swept by
the same lifecycle rule, and remade from the video on the next request if it was swept
(``docs/decisions.md``). Ingest makes the WebP one right after the promotion, so the first
grid that shows the video does not wait for a decode.

The video is read through ranged GETs (:class:`RangedReader`): the headers and the first
keyframe, never the whole file.
"""

from __future__ import annotations

import logging

from sartiq_storage.adapters.media_probe import MediaProbeError
from sartiq_storage.adapters.stores import ObjectInfo, ObjectStore
from sartiq_storage.core.errors import StorageError
from sartiq_storage.core.policies import IMMUTABLE
from sartiq_storage.services.delivery import DeliveryService, make_poster

logger = logging.getLogger(__name__)

POSTER_FORMAT = "webp"
"""The format ingest makes (what the console's grid asks for); others are made on demand."""


def poster_key(video: ObjectInfo, fmt: str = POSTER_FORMAT) -> str:
    """Where the poster of ``video`` (its canonical object, with its ETag) is stored."""
    return DeliveryService.derivative_key(video, fmt)


def store_poster(store: ObjectStore, video: ObjectInfo, poster: bytes) -> str | None:
    """Store the WebP poster made at verification beside ``video`` (its promoted copy)."""
    key = poster_key(video)
    try:
        store.put(key, poster, content_type="image/webp", cache_control=IMMUTABLE)
    except StorageError as exc:  # a cache: the first request makes it again
        logger.warning("could not store the poster frame of %s: %s", video.key, exc)
        return None
    return key


def make_poster_quietly(store: ObjectStore, video: ObjectInfo, *, max_pixels: int) -> str | None:
    """The WebP poster of a video just promoted. A poster is a cache, remade on its first
    request, so failing to make it (a video whose first keyframe does not decode) never
    fails an ingest whose container was read: it is logged."""
    try:
        return make_poster(store, video, POSTER_FORMAT, max_pixels=max_pixels)
    except (MediaProbeError, StorageError) as exc:
        logger.warning("no poster frame for %s: %s", video.key, exc)
        return None
