"""The object-store interface that every backend implements and every service uses.

It is deliberately small (put, get, head, copy, delete, list, presign) and synchronous:
the services run it in worker threads, and keeping one calling convention keeps the
contract suite identical on the local disk, memory and S3-compatible backends.
"""

from __future__ import annotations

import builtins
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Literal

from sartiq_storage.core.multipart import UploadedPart

Body = bytes | bytearray | memoryview | BinaryIO | Iterable[bytes]
"""What ``put`` accepts: bytes, a binary file object, or an iterable of chunks (streamed)."""

_PLAIN_MD5 = re.compile(r"^[0-9a-f]{32}$")
DEFAULT_CHUNK = 1024 * 1024


def normalize_etag(etag: str | None) -> str | None:
    """Strip the quotes S3 puts around ETags. A weak ETag keeps its ``W/`` marker, so that
    nothing downstream mistakes it for the MD5 of the bytes (:func:`md5_from_etag`)."""
    if etag is None:
        return None
    etag = etag.strip()
    weak = etag.startswith("W/")
    value = etag[2:] if weak else etag
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]  # one pair of quotes, as sent; anything odder stays as it is
    if not value:
        return None
    return f"W/{value}" if weak else value


SOURCE_CHANGED = "the source changed since the caller read it"
"""The reason a copy pinned by ``source_info`` was refused."""


def md5_from_etag(etag: str | None) -> str | None:
    """The content MD5 when the ETag is one: a plain 32-hex-digit value, no ``-N``.

    Multipart (``<md5 of part md5s>-N``), SSE-KMS/SSE-C (opaque) and weak (``W/"…"``: only
    "equivalent", e.g. recompressed by a CDN) ETags are not MD5s; callers must hash the bytes
    then. Quotes around the value are allowed (S3 sends them), nothing else is.
    """
    if etag is None:
        return None
    etag = etag.strip()
    if etag.startswith("W/"):
        return None
    if len(etag) == 34 and etag[0] == etag[-1] == '"':
        etag = etag[1:-1]
    etag = etag.lower()
    return etag if _PLAIN_MD5.fullmatch(etag) else None


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a HEAD (or a listing entry) tells about an object."""

    key: str
    size: int
    etag: str | None
    last_modified: datetime
    content_type: str | None = None
    cache_control: str | None = None

    @property
    def md5(self) -> str | None:
        return md5_from_etag(self.etag)


@dataclass(frozen=True, slots=True)
class PutResult:
    key: str
    etag: str | None
    size: int


@dataclass(frozen=True, slots=True)
class DeleteFailure:
    """One key a batch delete could not remove, with the store's reason."""

    key: str
    error: str


@dataclass(frozen=True, slots=True)
class PresignedRequest:
    """A request the holder may make without credentials until ``expires_in`` runs out.

    ``headers`` are the headers that were bound into the signature: the client must send
    exactly these, or the store refuses the request.
    """

    url: str
    method: Literal["PUT", "GET"]
    headers: dict[str, str] = field(default_factory=dict)
    expires_in: int = 0


class ObjectStream:
    """A streaming read: iterate for chunks, or ``read()`` everything. Close when done."""

    def __init__(
        self,
        info: ObjectInfo,
        chunks: Iterator[bytes],
        byte_range: tuple[int, int],
        close: Iterable[object] = (),
        whole: Callable[[], bytes] | None = None,
        achunks: Callable[[], AsyncIterator[bytes]] | None = None,
    ) -> None:
        self.info = info
        self.byte_range = byte_range
        """Served range as ``(start, end_exclusive)``."""
        self._chunks = chunks
        self._closers = list(close)
        self._whole = whole
        """Reads the whole range at once (one buffer, no join of chunks): for ``read()``
        before any chunk was taken."""
        self._achunks = achunks
        """The same chunks read asynchronously by the store's own client (no thread), where
        it has one: see :meth:`native_async`."""

    @property
    def length(self) -> int:
        return self.byte_range[1] - self.byte_range[0]

    def __iter__(self) -> Iterator[bytes]:
        self._whole = None
        try:
            yield from self._chunks
        finally:
            self.close()

    def native_async(self) -> AsyncIterator[bytes] | None:
        """The chunks for an event loop, read by the store's async client (the S3 store's
        obstore): no worker thread, no hop a chunk; None where the store reads blocking.
        Use it or iterate, not both."""
        if self._achunks is None:
            return None
        self._whole = None
        return self._async_chunks(self._achunks())

    async def _async_chunks(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            self.close()

    def read(self) -> bytes:
        if self._whole is not None:
            try:
                return self._whole()
            finally:
                self.close()
        return b"".join(self)

    def close(self) -> None:
        for closer in self._closers:
            close = getattr(closer, "close", None)
            if close is not None:
                close()
        self._closers.clear()

    def __enter__(self) -> ObjectStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve_range(size: int, start: int | None, end: int | None) -> tuple[int, int]:
    """Clamp a requested ``[start, end)`` range to an object of ``size`` bytes.

    Raises ``ValueError`` for a range that starts past the end (HTTP 416 territory).
    """
    lo = 0 if start is None else start
    hi = size if end is None else min(end, size)
    if lo < 0 or (end is not None and end < lo):
        raise ValueError(f"invalid byte range {start}-{end}")
    if lo > size or (lo == size and size > 0):
        raise ValueError(f"byte range {start}-{end} starts past the end ({size} bytes)")
    return lo, hi


class ObjectStore(ABC):
    """One bucket (or data folder) of objects addressed by validated keys."""

    kind: str = "abstract"
    atomic_create_only_copy: bool = True
    """Whether ``copy(if_absent=True)`` is one atomic request. Where it is not (a generic S3
    such as MinIO or moto), it costs a HEAD first, and a concurrent writer can still race it."""
    signed_put_create_only: bool = False
    """Whether ``presign_put(if_absent=True)`` is create-only by the URL alone (the embedded
    backend checks its own signed URLs); S3 needs the client to send ``If-None-Match``."""

    @property
    @abstractmethod
    def description(self) -> str:
        """Where the objects live, for humans (no secrets)."""

    def copy_computes_md5(self, size: int) -> bool:
        """Whether :meth:`copy` of an object of ``size`` bytes is expected to answer with the
        MD5 of the bytes as its ETag, whatever the source's was (a multipart ``…-N``
        included). Ingest then takes a big video's MD5 from its copy instead of reading the
        video (``promotion.promote_streaming``); an answer that is no MD5 after all is still
        handled, by reading the copy, so this says only which way is faster. The local and
        memory stores always keep an MD5 ETag."""
        return True

    @abstractmethod
    def put(
        self,
        key: str,
        body: Body,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
        if_absent: bool = False,
    ) -> PutResult:
        """Write an object atomically; with ``if_absent`` refuse to replace one.

        Raises :class:`PreconditionFailedError` when ``if_absent`` and the key exists.
        """

    @abstractmethod
    def get(self, key: str, *, start: int | None = None, end: int | None = None) -> ObjectStream:
        """Stream an object, or the byte range ``[start, end)`` of it."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo:
        """Size, ETag, content type and last-modified; :class:`ObjectNotFoundError` if absent."""

    def check_reachable(self, probe_key: str) -> None:
        """Raise :class:`StoreUnavailableError` when the store cannot serve at all; a HEAD of
        ``probe_key``, which need not exist. A store in a bucket overrides it to ask for the
        bucket too: a HEAD's 404 cannot tell a missing bucket from a missing key."""
        self.exists(probe_key)  # found or not, the store answered

    def exists(self, key: str) -> bool:
        from sartiq_storage.core.errors import ObjectNotFoundError

        try:
            self.head(key)
        except ObjectNotFoundError:
            return False
        return True

    def get_bytes(self, key: str) -> bytes:
        with self.get(key) as stream:
            return stream.read()

    @abstractmethod
    def copy(
        self,
        source: str,
        destination: str,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
        if_absent: bool = False,
        source_info: ObjectInfo | None = None,
    ) -> ObjectInfo:
        """Server-side copy. Metadata given here replaces the source's; omitted, it is kept.

        ``source_info``: the source as the caller has just seen it. The copy is then made only
        if the source still has that ETag (:class:`PreconditionFailedError` naming the
        source otherwise, where the store can tell), and the store need not look at the
        source again first.
        """

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; a missing object is not an error (the goal state holds)."""

    @abstractmethod
    def delete_many(self, keys: Iterable[str]) -> list[DeleteFailure]:
        """Remove many objects; return the keys that failed instead of raising for them."""

    @abstractmethod
    def list(self, prefix: str = "", *, start_after: str | None = None) -> Iterator[ObjectInfo]:
        """Every object under ``prefix`` in lexicographic key order, streamed page by page."""

    @abstractmethod
    def presign_put(
        self,
        key: str,
        *,
        content_type: str | None,
        content_length: int | None = None,
        expires_in: int,
        if_absent: bool = True,
        max_length: int | None = None,
    ) -> PresignedRequest:
        """A PUT URL bound to the content type (and length when known).

        ``content_type=None`` leaves the type to the uploader (lakeFS's staging URLs: the
        client sends what it likes); ``max_length`` caps a body whose exact length is not
        bound, where the store is the one to enforce it (the embedded backend; S3's own
        single-PUT cap is 5 GiB).
        """

    @abstractmethod
    def presign_get(self, key: str, *, expires_in: int) -> PresignedRequest:
        """A GET URL that works without credentials until it expires."""

    # -- multipart uploads (S3's protocol on every backend; see docs/uploads.md) -------------

    def _no_multipart(self) -> NotImplementedError:
        return NotImplementedError(f"the {self.kind} backend has no multipart uploads")

    def create_multipart(
        self, key: str, *, content_type: str, cache_control: str | None = None
    ) -> str:
        """Start a multipart upload to ``key``; the upload id names it in every later call."""
        raise self._no_multipart()

    def upload_part(self, key: str, upload_id: str, part_number: int, body: Body) -> UploadedPart:
        """Store one part (replacing an earlier upload of the same number)."""
        raise self._no_multipart()

    def presign_upload_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        expires_in: int,
        max_total: int | None = None,
    ) -> PresignedRequest:
        """A PUT URL for one part; its answer's ``ETag`` header is what completing names.

        ``max_total``: the most bytes the upload's parts may add up to. A store that is its
        own part target binds it into the URL and refuses a part that would pass it (413),
        so a part URL cannot fill its disk; an S3 URL cannot carry it (the bucket holds a
        part to 5 GiB; completion holds the total to the cap, and lifecycle aborts the rest).
        """
        raise self._no_multipart()

    def list_parts(self, key: str, upload_id: str) -> builtins.list[UploadedPart]:
        """The parts stored so far, by number: what a resumed upload need not send again.

        Raises :class:`UploadNotFoundError` for an upload that is not (or no longer) there.
        """
        raise self._no_multipart()

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> ObjectInfo:
        """Assemble the named parts ``(number, etag)``, ascending, into the object at ``key``."""
        raise self._no_multipart()

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an upload and its parts; an upload already gone is not an error."""
        raise self._no_multipart()

    def abort_stale_multipart(self, started_before: datetime, *, apply: bool = True) -> int:
        """Abort the uploads started before ``started_before``, for stores without a
        lifecycle engine (the bucket's own rule does it on S3 and R2); how many there were."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has none."""
