"""Where ``GET /files/{path}`` sends a browser, and the local conversions behind it.

* No ``type``: 302 to the object's public URL (CDN, MinIO, or this service).
* ``type`` in webp/jpeg/png/avif/gif: in production and staging with Cloudflare Image
  Transformations on, 302 to ``{CDN}/cdn-cgi/image/format={type}/{path}``; with them off, the
  plain URL. In development (and on the embedded store) the conversion happens here: 302 to
  ``/_storage/derived/{type}/{path}``, which converts once, caches the derivative in the
  store, and serves it with immutable caching.
* ``type=auto`` picks from the ``Accept`` header and redirects to that format-explicit URL; only
  that 302 depends on ``Accept`` (it says ``Vary: Accept`` and is never cached), so no CDN
  cache entry does.
* a video's ``type`` is its poster frame (first keyframe) in that format: always the local
  route (``/_storage/derived/{type}/{path}``), in every environment, because an image CDN
  does not decode video; the derivative is made at ingest (``services/media/posters.py``) and
  remade from ranged reads of the video if it was swept.
* ``temp/`` keys are refused (404), with or without ``type``: they are unverified uploads, and
  the stable file URL never points at them nor converts them (``docs/reliability.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from sartiq_storage.adapters.image_convert import EXTENSIONS, FORMATS, convert
from sartiq_storage.adapters.media_probe import MAX_PIXELS, poster_frame
from sartiq_storage.adapters.stores import ObjectInfo, ObjectStore
from sartiq_storage.adapters.stores.ranged import RangedReader
from sartiq_storage.adapters.vips import DECODES
from sartiq_storage.core.config import Environment, Settings
from sartiq_storage.core.errors import InvalidMediaInputError, MediaNotFoundError
from sartiq_storage.core.keys import ZONE_PREFIXES, Zone
from sartiq_storage.core.policies import IMMUTABLE
from sartiq_storage.core.sniff import ALLOWED_UPLOAD_TYPES
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.core.validation import validate_key
from sartiq_storage.services import failpoints

DERIVED_ROUTE = "/_storage/derived"
DERIVED_PREFIX = "derived/"
TYPES = (*FORMATS, "auto")
_SAFE = "/-._~!$&'()*+,;=:@"
_UNVERIFIED = ZONE_PREFIXES[Zone.temp]
VIDEO_EXTENSIONS = frozenset(
    s.extension for s in ALLOWED_UPLOAD_TYPES.values() if s.resource_type == "VIDEO"
)
"""Keys whose ``?type=`` is a poster frame: the extensions ingest gives videos."""


def is_video_key(key: str) -> bool:
    """Whether ``key`` names a video by its extension (pure: no store call)."""
    return key.rpartition(".")[2].lower() in VIDEO_EXTENSIONS


def make_poster(
    store: ObjectStore, video: ObjectInfo, fmt: str, *, max_pixels: int = MAX_PIXELS
) -> str:
    """Decode the first keyframe of ``video`` (ranged reads), store it as ``fmt`` under the
    video's derivative key, and return that key. :class:`MediaProbeError` if none decodes."""
    key = DeliveryService.derivative_key(video, fmt)
    saver, content_type = FORMATS[fmt]
    reader = RangedReader(store, video)
    data = poster_frame(reader, saver, max_pixels=max_pixels)  # type: ignore[arg-type]
    store.put(key, data, content_type=content_type, cache_control=IMMUTABLE)
    return key


def _servable(path: str) -> str:
    """The validated key, unless it is an unverified upload that ``/files`` never serves."""
    key = validate_key(path)
    if key.startswith(_UNVERIFIED):
        raise MediaNotFoundError(
            "temp/ holds unverified uploads: /files neither redirects to nor converts them"
        )
    return key


@dataclass(frozen=True, slots=True)
class Redirect:
    location: str
    cache_control: str
    vary: str | None = None


def negotiate(accept: str | None) -> str:
    """The best format the client accepts: AVIF, then WebP, else JPEG."""
    accepted = (accept or "").lower()
    if "image/avif" in accepted:
        return "avif"
    if "image/webp" in accepted:
        return "webp"
    return "jpeg"


class DeliveryService:
    def __init__(
        self,
        settings: Settings,
        store: ObjectStore,
        urls: UrlResolver,
        *,
        max_pixels: int = MAX_PIXELS,
        timeout: float = 20.0,
    ) -> None:
        self.settings = settings
        self.store = store
        self.urls = urls
        self.max_pixels = max_pixels
        self.timeout = timeout
        self.local_conversion = settings.ENVIRONMENT is Environment.development or settings.embedded
        self.cloudflare = (
            not self.local_conversion and settings.CLOUDFLARE_IMAGE_TRANSFORMATIONS_ENABLED
        )
        self._service = settings.service_url

    def redirect(self, path: str, type_: str | None, accept: str | None) -> Redirect:
        """The 302 target for ``/files/{path}?type=…``. Pure computation: no store call."""
        key = _servable(path)
        if type_ is None:
            return Redirect(self.urls.public_url_of_valid(key), IMMUTABLE)
        if type_ not in TYPES:
            raise InvalidMediaInputError(f"type must be one of {', '.join(TYPES)}")
        if type_ == "auto":
            chosen = negotiate(accept)
            return Redirect(self._format_url(key, chosen), "private, no-store", vary="Accept")
        return Redirect(self._format_url(key, type_), IMMUTABLE)

    def _format_url(self, key: str, fmt: str) -> str:
        encoded = quote(key, safe=_SAFE)
        if self.local_conversion or is_video_key(key):
            return f"{self._service}{DERIVED_ROUTE}/{fmt}/{encoded}"
        if self.cloudflare:
            return f"{self.urls.public_base}/cdn-cgi/image/format={fmt}/{encoded}"
        return self.urls.public_url_of_valid(key)

    # -- local conversion --------------------------------------------------------------------

    @staticmethod
    def derivative_key(source: ObjectInfo, fmt: str) -> str:
        """Keyed by the source's key *and* its ETag: a changed source gets a new derivative."""
        tag = (source.etag or f"{source.size}-{int(source.last_modified.timestamp())}")[:64]
        return f"{DERIVED_PREFIX}{fmt}/{tag}/{source.key}.{EXTENSIONS[fmt]}"

    def derivative_for(self, path: str, fmt: str) -> tuple[ObjectInfo, str]:
        """The source as the store has it now, and the key its ``fmt`` derivative has.

        The source is HEADed on every request, never remembered in the process: with several
        processes (or hosts) serving one store, a source deleted through one of them must be
        a 404 through every one, and an answer remembered in one process cannot know that.
        A missing source raises ``ObjectNotFoundError`` (404) even when its derivative is
        still in the store.
        """
        if fmt not in FORMATS:
            raise InvalidMediaInputError(f"format must be one of {', '.join(FORMATS)}")
        source = self.store.head(_servable(path))
        return source, self.derivative_key(source, fmt)

    def make(self, source: ObjectInfo, fmt: str) -> str:
        """Convert ``source`` to ``fmt`` and store it, unless the derivative exists already
        (another request, or another process, made it); returns the derivative's key."""
        key = self.derivative_key(source, fmt)
        if is_video_key(source.key):
            if not self.store.exists(key):
                failpoints.hit("derive.converting")
                make_poster(self.store, source, fmt, max_pixels=self.max_pixels)
            return key
        self.made(source, fmt)
        return key

    def made(self, source: ObjectInfo, fmt: str) -> tuple[ObjectInfo, bytes] | None:
        """:meth:`make` for an image: the derivative as stored and its bytes when this call
        converted it (the route answers with them, no second read), None when it was there."""
        key = self.derivative_key(source, fmt)
        if self.store.exists(key):
            return None
        with DECODES.held():  # one of the process's decode slots, or a 503 once busy
            if self.store.exists(key):  # made while this one waited
                return None
            failpoints.hit("derive.converting")
            data = self.store.get_bytes(source.key)
            out = convert(data, fmt, max_pixels=self.max_pixels, timeout=self.timeout)
            del data
            self.store.put(key, out, content_type=FORMATS[fmt][1], cache_control=IMMUTABLE)
        return self.store.head(key), out
