"""What every gateway operation gets: the verified call, the engine, threads for its calls."""

from __future__ import annotations

import fnmatch
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from starlette.responses import Response
from starlette.types import Receive

from sartiq_storage.core.datasets.errors import DatasetError, NotFoundError
from sartiq_storage.core.datasets.model import Entry
from sartiq_storage.core.datasets.protocol import DatasetStore
from sartiq_storage.core.errors import StorageError
from sartiq_storage.interfaces.s3_gateway import body
from sartiq_storage.interfaces.s3_gateway.errors import S3Error, from_dataset_error
from sartiq_storage.interfaces.s3_gateway.sigv4 import Verified
from sartiq_storage.interfaces.s3_gateway.xml import http_date

T = TypeVar("T")
HANDOFF = 1024 * 1024
"""Bytes gathered on the event loop before a write's worker thread takes them: one hop
between the loop and the thread a mebibyte, not one per network read."""
XML = "application/xml"
PATHSEND = "http.response.pathsend"
"""The ASGI extension by which the server sends a file itself (granian offers it)."""


@dataclass(slots=True)
class Call:
    """One verified request: bucket (repository), key (``ref/path``) and its parts."""

    method: str
    bucket: str
    key: str
    query: dict[str, str]
    headers: dict[str, str]
    receive: Receive
    verified: Verified
    engine: DatasetStore
    request_id: str
    pathsend: bool = False
    """The server sends files itself (ASGI ``pathsend``): whole local objects go that way."""
    ref: str = field(init=False)
    path: str = field(init=False)

    def __post_init__(self) -> None:
        self.ref, _, self.path = self.key.partition("/")

    @property
    def resource(self) -> str:
        return f"/{self.bucket}/{self.key}" if self.key else f"/{self.bucket}"

    async def run(self, fn: Callable[[], T], *, missing: str = "NoSuchKey") -> T:
        """``fn`` (engine calls) in a worker thread; engine errors become S3 errors."""
        try:
            return await anyio.to_thread.run_sync(fn)
        except S3Error:
            raise
        except StorageError as exc:
            if isinstance(exc, NotFoundError) and missing == "NoSuchKey":
                await self.check_bucket()
            raise from_dataset_error(exc, resource=self.resource, missing=missing) from exc

    async def check_bucket(self) -> None:
        """NoSuchBucket when the repository itself is missing (a 404 is about it, then)."""
        try:
            await anyio.to_thread.run_sync(lambda: self.engine.get_repository(self.bucket))
        except DatasetError as exc:
            raise from_dataset_error(
                exc, resource=f"/{self.bucket}", missing="NoSuchBucket"
            ) from exc

    async def branch(self) -> None:
        """Writes go to branches only: a tag, a commit or a missing branch is refused
        before any body is read, as lakeFS's gateway refuses it (``NoSuchBucket``)."""
        engine, bucket, ref = self.engine, self.bucket, self.ref

        def target() -> tuple[bool, bool, list[str]]:
            """(read-only, is a branch, protection patterns), in one worker hop."""
            repository = engine.get_repository(bucket)
            try:
                engine.get_branch(bucket, ref)
            except DatasetError:
                return repository.read_only, False, []
            return repository.read_only, True, engine.get_branch_protection(bucket)

        read_only, is_branch, patterns = await self.run(target, missing="NoSuchBucket")
        if read_only:
            raise S3Error(
                "ErrReadOnlyRepository",
                "Attempted to write to a read-only repository",
                403,
                resource=self.resource,
            )
        if not is_branch:
            raise S3Error(
                "NoSuchBucket",
                f"{ref!r} is not a branch of {bucket!r}: objects are written to "
                "branches only (not to tags or commits)",
                404,
                resource=self.resource,
            )
        if any(fnmatch.fnmatchcase(ref, pattern) for pattern in patterns):
            raise S3Error(
                "ErrWriteToProtectedBranch",
                f"cannot write to protected branch {ref!r}",
                403,
                resource=self.resource,
            )

    def payload(self) -> AsyncIterator[bytes]:
        return _coalesced(body.payload(self.receive, self.verified, self.headers))

    async def write(self, fn: Callable[[Iterator[bytes]], T]) -> T:
        """``fn(chunks)`` in a worker thread, ``chunks`` pulling the checked body from the
        loop as ``fn`` reads it: streamed, never held whole."""
        source = self.payload()

        async def next_piece() -> bytes | None:
            return await anext(source, None)

        def chunks() -> Iterator[bytes]:
            while (piece := anyio.from_thread.run(next_piece)) is not None:
                yield piece

        return await self.run(lambda: fn(chunks()))

    async def small_body(self, limit: int = 2 * 1024 * 1024) -> bytes:
        return await body.read_all(self.receive, self.verified, self.headers, limit)

    def metadata(self) -> dict[str, str]:
        return {
            k[len("x-amz-meta-") :]: v
            for k, v in self.headers.items()
            if k.startswith("x-amz-meta-")
        }


async def _coalesced(source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    pending = bytearray()
    async for piece in source:
        pending += piece
        if len(pending) >= HANDOFF:
            yield bytes(pending)
            pending.clear()
    if pending:
        yield bytes(pending)


def etag(entry: Entry) -> str:
    return f'"{entry.checksum}"'


def object_headers(entry: Entry) -> dict[str, str]:
    headers = {
        "ETag": etag(entry),
        "Last-Modified": http_date(entry.mtime),
        "Accept-Ranges": "bytes",
        "Content-Type": entry.content_type,
    }
    for name, value in entry.metadata.items():
        headers[f"x-amz-meta-{name}"] = value
    return headers


def xml_response(
    content: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(content, status, headers=headers, media_type=XML)
