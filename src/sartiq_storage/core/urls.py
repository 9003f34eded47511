"""Key ↔ URL resolution per environment.

Keys are stored relative (``media/{id}/file.webp``) and turned into public URLs only when
served: ``{public base}/{key}``. The reverse maps a CDN or upload URL back to its key and
refuses any URL that is not ours, which is what keeps ingestion from being pointed at a
foreign host (SSRF) or at a key outside the expected prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from sartiq_storage.core.config import DEFAULT_PUBLIC_BASES, Environment, Settings
from sartiq_storage.core.errors import StorageError
from sartiq_storage.core.quoting import key_quoter
from sartiq_storage.core.signing import OBJECT_ROUTE
from sartiq_storage.core.validation import validate_key

PUBLIC_ROUTE = "/_storage/public"
"""Where the service serves objects itself when it is the store (embedded backends)."""

_SAFE = "/-._~!$&'()*+,;=:@"
_quote_key = key_quoter(_SAFE)


class ForeignUrlError(StorageError, ValueError):
    """A URL that does not point into our bucket (another host, scheme or path)."""

    status = 422

    def __init__(self, url: str, reason: str = "not a URL of this storage") -> None:
        self.url = url
        super().__init__(f"refused URL {url[:200]!r}: {reason}")


@dataclass(frozen=True, slots=True)
class _Base:
    scheme: str
    netloc: str
    path: str  # no trailing slash

    @classmethod
    def parse(cls, url: str) -> _Base:
        parsed = urlsplit(url)
        return cls(parsed.scheme.lower(), parsed.netloc.lower(), parsed.path.rstrip("/"))

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.path}"


def public_base_for(settings: Settings) -> str:
    """The public base URL for this environment and backend.

    ``CDN_URL`` wins. Otherwise the seed's table, except that in development the base follows
    the actual store: the service itself for embedded backends, ``{endpoint}/{bucket}`` for
    MinIO (the seed's ``http://localhost:9002/shootify-media-dev`` is exactly that shape).
    """
    if settings.CDN_URL:
        return settings.CDN_URL
    if settings.ENVIRONMENT is Environment.development:
        if settings.embedded:
            return settings.service_url + PUBLIC_ROUTE
        if settings.R2_ENDPOINT_URL:
            return f"{settings.R2_ENDPOINT_URL}/{settings.R2_BUCKET_NAME}"
    return DEFAULT_PUBLIC_BASES[settings.ENVIRONMENT]


class UrlResolver:
    """Builds public URLs for keys and maps our URLs back to keys."""

    def __init__(
        self,
        public_base: str,
        *,
        upload_bases: list[str] | tuple[str, ...] = (),
        service_base: str | None = None,
    ) -> None:
        self.public_base = public_base.rstrip("/")
        self.service_base = None if service_base is None else service_base.rstrip("/")
        """This service's own URL: the stable ``/files/…`` URLs (a video's poster) use it."""
        self._public = _Base.parse(self.public_base)
        self._bases = [self._public, *(_Base.parse(b) for b in upload_bases)]

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlResolver:
        uploads: list[str] = []
        if settings.embedded:
            uploads.append(settings.service_url + OBJECT_ROUTE.rstrip("/"))
            uploads.append(settings.service_url + PUBLIC_ROUTE)
        elif settings.R2_ENDPOINT_URL:
            endpoint = urlsplit(settings.R2_ENDPOINT_URL)
            uploads.append(f"{settings.R2_ENDPOINT_URL}/{settings.R2_BUCKET_NAME}")
            uploads.append(f"{endpoint.scheme}://{settings.R2_BUCKET_NAME}.{endpoint.netloc}")
        else:
            uploads.append(f"https://{settings.R2_BUCKET_NAME}.s3.amazonaws.com")
        return cls(
            public_base_for(settings), upload_bases=uploads, service_base=settings.service_url
        )

    def public_url(self, key: str) -> str:
        """``{public base}/{key}``, percent-encoded once."""
        return self.public_url_of_valid(validate_key(key))

    def public_url_of_valid(self, key: str) -> str:
        """:meth:`public_url` for a key the caller has just validated (the hot path)."""
        return f"{self.public_base}/{_quote_key(key)}"

    def poster_url(self, key: str, fmt: str = "webp") -> str | None:
        """A video's poster frame: its stable ``/files/{key}?type={fmt}`` URL on this
        service (``services/media/posters.py``); None without a known service URL."""
        if self.service_base is None:
            return None
        return f"{self.service_base}/files/{quote(validate_key(key), safe=_SAFE)}?type={fmt}"

    def key_from_url(self, url: str, *, prefix: str | None = None) -> str:
        """The key a URL of ours points at; :class:`ForeignUrlError` for anything else.

        With ``prefix``, the key must also lie under it (e.g. ``temp/`` for uploads).
        """
        if not isinstance(url, str) or any(c in url for c in "\r\n\t\\"):
            raise ForeignUrlError(str(url), "control characters or backslashes")
        parsed = urlsplit(url.strip())
        if parsed.username or parsed.password:
            raise ForeignUrlError(url, "credentials in the URL")
        if parsed.fragment:
            raise ForeignUrlError(url, "fragment in the URL")
        scheme, netloc = parsed.scheme.lower(), parsed.netloc.lower()
        for base in self._bases:
            if (scheme, netloc) != (base.scheme, base.netloc):
                continue
            if not parsed.path.startswith(base.path + "/"):
                continue
            raw = parsed.path[len(base.path) + 1 :]
            key = validate_key(unquote(raw, errors="strict"))
            if prefix is not None and not key.startswith(prefix):
                raise ForeignUrlError(url, f"key is not under {prefix!r}")
            return key
        raise ForeignUrlError(url, "host or path is not one of this storage's bases")
