"""S3-compatible backend: Cloudflare R2 in production, MinIO or AWS S3 elsewhere.

obstore (Rust) carries the data plane: put, get, head, list, delete. boto3 does what only it
does: presigned URLs with bound headers, copies that replace metadata or carry conditional
headers, batch deletes that report per-key failures, and bucket configuration.

R2's differences from S3 are handled by default (``docs/decisions.md``):

* no default CRC checksums (R2 accepts one checksum only): boto3 ``when_required``;
* no ACL or tagging headers are ever sent;
* create-only copy uses ``cf-copy-destination-if-none-match`` on R2, ``If-None-Match`` on
  AWS, and a HEAD check on stores that support neither (MinIO, moto);
* keys are NFC-normalised by :func:`validate_key`, as R2 does server-side;
* region ``auto``; path-style addressing on custom endpoints.

Retries. obstore retries what is safe to repeat (5xx, throttling, and transport failures of
idempotent requests); boto3 retries everything in its standard mode. Two requests are neither:
a create-only PUT whose answer was lost, and a create-only CopyObject that boto3 repeated after
one. Repeating either finds the key taken *by itself*, so a 412 after a failed attempt is
checked: when the key holds exactly this call's bytes (same size, same plain-MD5 ETag) the call
succeeded. Deletes go through boto3 (``DeleteObject`` is idempotent and retried); obstore
sends a bulk POST that it does not repeat after a reset.

This file holds the data plane; ``_s3_control.py`` the boto3 half (client, copies, deletes,
presigning) and ``_s3_errors.py`` how failures of either are read.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Literal, TypeVar

import obstore
from obstore.store import S3Store as _ObStore

from sartiq_storage.adapters.stores._s3_control import (
    COPY_PART_SIZE,
    MAX_SINGLE_COPY,
    PAGE,
    R2_COPY_IF_ABSENT,
    Flavor,
    S3ControlPlane,
    detect_flavor,
)
from sartiq_storage.adapters.stores._s3_errors import RANGE_REFUSED, answered, pause, translated
from sartiq_storage.adapters.stores._s3_multipart import S3Multipart
from sartiq_storage.adapters.stores.base import (
    DEFAULT_CHUNK,
    Body,
    ObjectInfo,
    ObjectStream,
    PutResult,
    normalize_etag,
)
from sartiq_storage.core.errors import (
    ObjectNotFoundError,
    PreconditionFailedError,
    StoreUnavailableError,
)
from sartiq_storage.core.validation import validate_key, validate_prefix

__all__ = ["MAX_SINGLE_COPY", "R2_COPY_IF_ABSENT", "Flavor", "S3Store", "detect_flavor"]

_T = TypeVar("_T")


def _just_before(text: str) -> str:
    """A ``start-after`` that lists ``text`` itself and all after it, but is no key and no
    key's prefix: ``text`` with its last character one lower, then U+10FFFF (a non-character,
    never in a key). Where one lower is no printable character, ``text`` less its last one."""
    last = ord(text[-1]) - 1
    if 0xD800 <= last <= 0xDFFF:
        last = 0xD7FF
    if last < 0x20:
        return text[:-1]
    return text[:-1] + chr(last) + "\U0010ffff"


def _seekable(body: Body) -> bool:
    seekable = getattr(body, "seekable", None)
    return bool(seekable is not None and seekable())


def _rest_of(info: ObjectInfo, start: int, end: int) -> dict[str, Any]:
    """The GET options for the rest of a cut body: its range, pinned to the ETag first read."""
    options: dict[str, Any] = {"range": (start, end)}
    if info.etag:
        options["if_match"] = f'"{info.etag}"'
    return options


@contextmanager
def _resuming(key: str) -> Iterator[None]:
    """Errors of a resumed read: an object replaced or gone since is a read that failed."""
    try:
        with translated(key):
            yield
    except (PreconditionFailedError, ObjectNotFoundError):
        raise StoreUnavailableError(f"object {key!r} changed while it was being read") from None


def _info(key: str, result: Any) -> ObjectInfo:
    """What an obstore GET (or HEAD) answer says about the object."""
    attrs = result.attributes
    meta = result.meta
    return ObjectInfo(
        key=key,
        size=meta["size"],
        etag=normalize_etag(meta.get("e_tag")),
        last_modified=meta["last_modified"],
        content_type=attrs.get("Content-Type"),
        cache_control=attrs.get("Cache-Control"),
    )


class S3Store(S3Multipart, S3ControlPlane):
    """One bucket on an S3-compatible service (multipart uploads: ``_s3_multipart.py``)."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        region: str = "auto",
        flavor: Flavor | None = None,
        max_attempts: int = 5,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        multipart_copy_threshold: int = MAX_SINGLE_COPY,
        copy_part_size: int = COPY_PART_SIZE,
    ) -> None:
        super().__init__(
            bucket=bucket,
            endpoint_url=endpoint_url,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            region=region,
            flavor=flavor,
            max_attempts=max_attempts,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            multipart_copy_threshold=multipart_copy_threshold,
            copy_part_size=copy_part_size,
        )
        options: dict[str, Any] = {
            "bucket": bucket,
            "region": self.boto_region,
            "virtual_hosted_style_request": False if endpoint_url else None,
            "client_options": {
                "allow_http": bool(endpoint_url and endpoint_url.startswith("http://")),
                "connect_timeout": timedelta(seconds=connect_timeout),
                "timeout": timedelta(seconds=read_timeout),
            },
            "retry_config": {
                "max_retries": max_attempts - 1,
                "backoff": {
                    "init_backoff": timedelta(milliseconds=100),
                    "max_backoff": timedelta(seconds=15),
                    "base": 2,
                },
                "retry_timeout": timedelta(minutes=3),
            },
        }
        if endpoint_url:
            options["endpoint"] = endpoint_url
        if access_key_id:
            options["access_key_id"] = access_key_id
        if secret_access_key:
            options["secret_access_key"] = secret_access_key
        options = {k: v for k, v in options.items() if v is not None}
        self._store = _ObStore(**options)

    # -- writes ----------------------------------------------------------------------------

    def put(
        self,
        key: str,
        body: Body,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
        if_absent: bool = False,
    ) -> PutResult:
        key = validate_key(key)
        attributes: dict[str, str] = {}
        if content_type:
            attributes["Content-Type"] = content_type
        if cache_control:
            attributes["Cache-Control"] = cache_control
        if isinstance(body, bytearray | memoryview):
            body = bytes(body)
        if if_absent:
            result = self._put_create(key, body, attributes)
        else:
            with translated(key):
                result = self._obstore_put(key, body, attributes, "overwrite")
        etag = normalize_etag(result.get("e_tag"))
        size = len(body) if isinstance(body, bytes) else -1
        if size < 0:
            size = self.head(key).size
        return PutResult(key, etag, size)

    def _obstore_put(
        self, key: str, body: Body, attributes: dict[str, str], mode: Literal["create", "overwrite"]
    ) -> Any:
        return obstore.put(
            self._store,
            key,
            body,
            attributes=attributes or None,
            mode=mode,
            chunk_size=8 * 1024 * 1024,
        )

    def _put_create(self, key: str, body: Body, attributes: dict[str, str]) -> Any:
        """A create-only PUT, repeated after a transport failure (obstore does not repeat it).

        A repeat that finds the key taken checks whether an earlier attempt of this call
        wrote it: the same size and MD5 means it did, and the call succeeded.
        """
        start = body.tell() if _seekable(body) else None  # type: ignore[union-attr]
        failed = False
        for attempt in range(1, self.max_attempts + 1):
            try:
                with translated(key):
                    return self._obstore_put(key, body, attributes, "create")
            except PreconditionFailedError:
                if failed:
                    held = self._holds(key, body, start)
                    if held is not None:
                        return {"e_tag": held.etag}
                raise
            except StoreUnavailableError as exc:
                replayable = isinstance(body, bytes) or start is not None
                if not replayable or answered(exc) or attempt == self.max_attempts:
                    raise
                failed = True
                if start is not None:
                    body.seek(start)  # type: ignore[union-attr]
                time.sleep(pause(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _holds(self, key: str, body: Body, start: int | None) -> ObjectInfo | None:
        """The object at ``key`` when it holds exactly ``body``'s bytes (by MD5), else None."""
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        if isinstance(body, bytes):
            digest.update(body)
            size = len(body)
        elif start is not None:
            body.seek(start)  # type: ignore[union-attr]
            while chunk := body.read(DEFAULT_CHUNK):  # type: ignore[union-attr]
                digest.update(chunk)
                size += len(chunk)
        else:
            return None
        try:
            info = self.head(key)
        except ObjectNotFoundError:
            return None
        if info.size == size and info.md5 == digest.hexdigest():
            return info
        return None

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
        source = validate_key(source)
        destination = validate_key(destination)
        replace_meta = content_type is not None or cache_control is not None
        if not replace_meta and not if_absent and source_info is None:
            self._repeat(source, lambda: obstore.copy(self._store, source, destination))
            return self.head(destination)
        return self._boto_copy(
            source,
            destination,
            content_type=content_type,
            cache_control=cache_control,
            if_absent=if_absent,
            source_info=source_info,
        )

    def _repeat(self, key: str, call: Callable[[], _T]) -> _T:
        """An idempotent obstore call, repeated after a transport failure it did not retry
        (a reset, or an answer whose body was cut)."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                with translated(key):
                    return call()
            except StoreUnavailableError as exc:
                if answered(exc) or attempt == self.max_attempts:
                    raise
            time.sleep(pause(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- reads -----------------------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo:
        key = validate_key(key)
        result = self._repeat(key, lambda: obstore.get(self._store, key, options={"head": True}))
        return _info(key, result)

    def get(self, key: str, *, start: int | None = None, end: int | None = None) -> ObjectStream:
        key = validate_key(key)
        options: dict[str, Any] = {}
        if start is not None or end is not None:
            lo = start or 0
            if lo < 0 or (end is not None and end < lo):
                raise ValueError(f"invalid byte range {start}-{end}")
            if end is None:
                options["range"] = {"offset": lo}
            elif end == lo:
                info = self.head(key)
                if lo > info.size:
                    raise ValueError(f"byte range {start}-{end} starts past the end")
                return ObjectStream(info, iter(()), (lo, lo))
            else:
                options["range"] = (lo, end)
        try:
            result = self._repeat(
                key,
                lambda: obstore.get(self._store, key, options=options or None),  # type: ignore[arg-type]
            )
        except StoreUnavailableError as exc:
            if RANGE_REFUSED.search(exc.cause):
                raise ValueError(f"byte range {start}-{end} starts past the end") from None
            raise
        info = _info(key, result)
        lo, hi = result.range
        stream = result.stream(min_chunk_size=DEFAULT_CHUNK)
        return ObjectStream(
            info,
            self._chunks(key, info, stream, lo, hi),
            (lo, hi),
            achunks=lambda: self._achunks(key, info, stream, lo, hi),
        )

    def _chunks(self, key: str, info: ObjectInfo, stream: Any, lo: int, hi: int) -> Iterator[bytes]:
        """The body's chunks; a body cut mid-way resumes with a range request for the rest,
        pinned to the same object by ``If-Match`` (a replaced object fails the read)."""
        delivered = 0
        for attempt in range(1, self.max_attempts + 1):
            try:
                with translated(key):
                    for chunk in stream:
                        delivered += len(chunk)
                        yield bytes(chunk)
                return
            except StoreUnavailableError as exc:
                if answered(exc) or attempt == self.max_attempts or lo + delivered >= hi:
                    raise
            time.sleep(pause(attempt))
            with _resuming(key):
                rest = obstore.get(self._store, key, options=_rest_of(info, lo + delivered, hi))  # type: ignore[arg-type]
            stream = rest.stream(min_chunk_size=DEFAULT_CHUNK)

    async def _achunks(
        self, key: str, info: ObjectInfo, stream: Any, lo: int, hi: int
    ) -> AsyncIterator[bytes]:
        """:meth:`_chunks` on an event loop (obstore's async client), the same resumption."""
        delivered = 0
        for attempt in range(1, self.max_attempts + 1):
            try:
                with translated(key):
                    async for chunk in stream:
                        delivered += len(chunk)
                        yield bytes(chunk)
                return
            except StoreUnavailableError as exc:
                if answered(exc) or attempt == self.max_attempts or lo + delivered >= hi:
                    raise
            await asyncio.sleep(pause(attempt))
            with _resuming(key):
                options = _rest_of(info, lo + delivered, hi)
                rest = await obstore.get_async(self._store, key, options=options)  # type: ignore[arg-type]
            stream = rest.stream(min_chunk_size=DEFAULT_CHUNK)

    def list(self, prefix: str = "", *, start_after: str | None = None) -> Iterator[ObjectInfo]:
        prefix = validate_prefix(prefix)
        # obstore lists by path segments; S3 prefixes are plain strings. List the enclosing
        # "folder" from just before the prefix, and stop once past it (keys come sorted).
        folder = prefix[: prefix.rfind("/") + 1] if "/" in prefix else ""
        floor = _just_before(prefix) if prefix and prefix != folder else None
        # A page that fails mid-way is asked for again from the last key seen, so a retry
        # neither repeats nor skips a key.
        after = start_after
        for attempt in range(1, self.max_attempts + 1):
            # Never a key itself as ``start-after``: SeaweedFS 4.48 then skips the keys it
            # prefixes ("p/ab/2" after "p/ab"). Ask from just before it and skip it here.
            offset = max(floor or "", _just_before(after) if after else "") or None
            try:
                with translated(prefix or "/"):
                    pages = obstore.list(
                        self._store,
                        prefix=folder.rstrip("/") or None,
                        offset=offset,
                        chunk_size=PAGE,
                    )
                    for page in pages:
                        for meta in page:
                            path = meta["path"]
                            if after is not None and path <= after:
                                continue
                            after = path
                            if not path.startswith(prefix):
                                if path > prefix:
                                    return
                                continue
                            yield ObjectInfo(
                                key=path,
                                size=meta["size"],
                                etag=normalize_etag(meta.get("e_tag")),
                                last_modified=meta["last_modified"],
                            )
                return
            except StoreUnavailableError as exc:
                if answered(exc) or attempt == self.max_attempts:
                    raise
                time.sleep(pause(attempt))
