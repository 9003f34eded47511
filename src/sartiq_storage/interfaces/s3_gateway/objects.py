"""Object operations: Head, Get (ranges, conditions), Put, Copy, Delete, DeleteObjects."""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

import anyio.to_thread
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from sartiq_storage.adapters.stores import ObjectStream
from sartiq_storage.core.datasets.errors import DatasetError, NotFoundError
from sartiq_storage.core.datasets.model import Entry, if_match_holds
from sartiq_storage.core.errors import PreconditionFailedError
from sartiq_storage.interfaces.s3_gateway.common import (
    HANDOFF,
    PATHSEND,
    Call,
    etag,
    object_headers,
    xml_response,
)
from sartiq_storage.interfaces.s3_gateway.errors import S3Error, from_dataset_error, no_such_key
from sartiq_storage.interfaces.s3_gateway.xml import document, element, iso, parse

_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
MAX_DELETE_KEYS = 1000


def _http_time(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _etags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/").strip('"') for t in header.split(",")}


def _etag_matches(header: str, entry: Entry) -> bool:
    return if_match_holds(_etags(header), entry.checksum)


def check_conditions(headers: dict[str, str], entry: Entry) -> int | None:
    """The status the conditional headers call for (304 or 412), or None to serve;
    RFC 7232's order, as S3 applies it (an If-Match that holds overrides
    If-Unmodified-Since; an If-None-Match that fails overrides If-Modified-Since)."""
    modified = datetime.fromtimestamp(entry.mtime, UTC)
    if "if-match" in headers:
        if not _etag_matches(headers["if-match"], entry):
            return 412
    elif "if-unmodified-since" in headers:
        since = _http_time(headers["if-unmodified-since"])
        if since is not None and modified > since:
            return 412
    if "if-none-match" in headers:
        if _etag_matches(headers["if-none-match"], entry):
            return 304
    elif "if-modified-since" in headers:
        since = _http_time(headers["if-modified-since"])
        if since is not None and modified <= since:
            return 304
    return None


def _position(text: str) -> int | None:
    """A range's position, ASCII digits only (``str.isdigit`` lets ``²`` through, which
    ``int`` refuses); past 19 digits it is past any object, and ``int`` would refuse 4,300."""
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) <= 19 else 10**19


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``[start, end)`` of a single ``bytes=`` range; None: serve the whole object (several
    ranges or a malformed header, which S3 ignores); InvalidRange when unsatisfiable."""
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    start, stop = _position(first), _position(last)
    if not dash or (first and start is None) or (last and stop is None):
        return None
    if start is None:
        if stop is None:
            return None
        suffix = stop
        if suffix == 0 or size == 0:
            raise _invalid_range(size)
        return max(0, size - suffix), size
    end = size - 1 if stop is None else min(stop, size - 1)
    if stop is not None and stop < start:
        return None
    if start >= size:
        raise _invalid_range(size)
    return start, end + 1


def _invalid_range(size: int) -> S3Error:
    return S3Error(
        "InvalidRange",
        "The requested range is not satisfiable",
        416,
        headers={"Content-Range": f"bytes */{size}"},
    )


async def _stat(call: Call) -> Entry:
    if not call.path:
        raise no_such_key(call.resource)
    return await call.run(lambda: call.engine.stat_object(call.bucket, call.ref, call.path))


async def head_object(call: Call) -> Response:
    entry = await _stat(call)
    status = check_conditions(call.headers, entry)
    headers = object_headers(entry)
    if status is not None:
        return Response(status_code=status, headers={"ETag": headers["ETag"]})
    # As S3: a Range on HEAD answers what the GET would (206 and its Content-Range; an
    # unsatisfiable one InvalidRange, whose status is all a HEAD carries).
    span = parse_range(call.headers["range"], entry.size) if "range" in call.headers else None
    if span is not None:
        headers["Content-Range"] = f"bytes {span[0]}-{span[1] - 1}/{entry.size}"
        headers["Content-Length"] = str(span[1] - span[0])
        return Response(status_code=206, headers=headers)
    headers["Content-Length"] = str(entry.size)
    return Response(status_code=200, headers=headers)


def _coalesced(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The store's chunks gathered to at least 1 MiB: one hop from the worker thread to
    the event loop a mebibyte, whatever size the store reads in."""
    pending = bytearray()
    for chunk in chunks:
        if not pending and len(chunk) >= HANDOFF:
            yield chunk  # already big enough: no copy
            continue
        pending += chunk
        if len(pending) >= HANDOFF:
            yield bytes(pending)
            pending.clear()
    if pending:
        yield bytes(pending)


READ_AHEAD = 4
"""Chunks (of about 1 MiB) read ahead of the client: the store's next read overlaps the
send of the previous one, memory stays bounded."""


async def _read_ahead(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` read by a thread of their own up to :data:`READ_AHEAD` pieces ahead."""
    pieces: queue.Queue[bytes | BaseException | None] = queue.Queue(READ_AHEAD)
    stop = threading.Event()

    def offer(item: bytes | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                pieces.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not offer(chunk):
                    return
        except Exception as exc:  # noqa: BLE001 - handed to the reader, raised there
            offer(exc)
            return
        offer(None)

    threading.Thread(target=produce, name="s3-gateway-read-ahead", daemon=True).start()
    try:
        while (item := await anyio.to_thread.run_sync(pieces.get)) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # a client that went away: the producer stops at its next piece


Body = bytes | str | AsyncIterator[bytes] | Iterator[bytes]
"""What a GET sends: the bytes (at most 1 MiB), a local file's path (sent by the server),
or chunks, asynchronous (the store's async client) or read ahead by a thread."""


async def get_object(call: Call) -> Response:
    if not call.path:
        raise no_such_key(call.resource)
    engine, headers_in = call.engine, call.headers

    def open_object() -> tuple[Entry, int | None, tuple[int, int] | None, Body]:
        """Lookup, conditions, range and the open stream in one worker hop, the bytes read
        by the entry's own address (one lookup: the headers and the bytes always belong
        together); an answer of at most 1 MiB is read whole in that same hop."""
        found = engine.open_object(call.bucket, call.ref, call.path)
        entry = found.entry
        status = check_conditions(headers_in, entry)
        if status is not None:
            return entry, status, None, b""
        span = parse_range(headers_in["range"], entry.size) if "range" in headers_in else None
        start, end = span if span is not None else (None, None)
        length = entry.size if span is None else span[1] - span[0]
        if call.pathsend and span is None and length > HANDOFF and _whole(found.file, length):
            assert found.file is not None
            return entry, None, span, found.file  # the server sends the file itself
        chunks = found.read(start, end)
        if length <= HANDOFF:
            return entry, None, span, b"".join(chunks)
        if isinstance(chunks, ObjectStream):
            native = chunks.native_async()
            if native is not None:
                return entry, None, span, native
        return entry, None, span, _coalesced(iter(chunks))

    entry, status, span, body = await call.run(open_object)
    headers = object_headers(entry)
    if status is not None:
        if status == 412:
            raise S3Error(
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold",
                412,
                resource=call.resource,
            )
        return Response(status_code=304, headers={"ETag": headers["ETag"]})
    for parameter, header in _OVERRIDES.items():
        if parameter in call.query:
            headers[header] = call.query[parameter]
    if span is not None:
        headers["Content-Range"] = f"bytes {span[0]}-{span[1] - 1}/{entry.size}"
        headers["Content-Length"] = str(span[1] - span[0])
        code = 206
    else:
        headers["Content-Length"] = str(entry.size)
        code = 200
    # The stored Content-Type exactly as stored (media_type would add a charset to text/*).
    if isinstance(body, bytes):
        return Response(body, code, headers=headers)
    if isinstance(body, str):
        return FileSent(body, code, headers)
    if isinstance(body, AsyncIterator):
        return StreamingResponse(body, code, headers=headers)
    return StreamingResponse(_read_ahead(body), code, headers=headers)


def _whole(file: str | None, size: int) -> bool:
    """The blob's file is there with the entry's size (else the read reports it gone)."""
    if file is None:
        return False
    try:
        return os.stat(file).st_size == size
    except OSError:
        return False


class FileSent(Response):
    """A whole object from the embedded store sent by the server itself (ASGI ``pathsend``,
    granian's zero-copy file send): no chunk of it passes through Python."""

    def __init__(self, path: str, status: int, headers: dict[str, str]) -> None:
        self.path = path
        super().__init__(None, status, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        await send({"type": PATHSEND, "path": self.path})


async def put_object(call: Call) -> Response:
    if "x-amz-copy-source" in call.headers:
        return await copy_object(call)
    if not call.path:
        raise S3Error("InvalidArgument", "an object key needs a path after the ref", 400)
    await call.branch()
    if_absent = call.headers.get("if-none-match", "").strip() == "*"
    if "if-none-match" in call.headers and not if_absent:
        # S3 takes only "*" on a write; any other value must not be ignored (that would
        # overwrite what the caller meant to keep).
        raise S3Error(
            "NotImplemented",
            "A header you provided implies functionality that is not implemented",
            501,
            resource=call.resource,
        )
    if_match: list[str] | None = None
    if "if-match" in call.headers:
        current = await call.run(lambda: call.engine.stat_object(call.bucket, call.ref, call.path))
        if not _etag_matches(call.headers["if-match"], current):
            raise from_dataset_error(PreconditionFailedError(call.path), resource=call.resource)
        if_match = sorted(_etags(call.headers["if-match"]))  # checked again as the write's CAS
    content_type = call.headers.get("content-type") or None
    metadata = call.metadata()
    entry = await call.write(
        lambda chunks: call.engine.put_object(
            call.bucket,
            call.ref,
            call.path,
            chunks,
            content_type=content_type,
            metadata=metadata,
            if_absent=if_absent,
            if_match=if_match,
        )
    )
    return Response(status_code=200, headers={"ETag": etag(entry)})


def copy_source(header: str) -> tuple[str, str, str]:
    """``(repository, ref, path)`` of ``x-amz-copy-source`` (``/repo/ref/path``, encoded)."""
    text = unquote(header.split("?", 1)[0]).lstrip("/")
    if "?versionId=" in header:
        raise S3Error("InvalidArgument", "object versions are refs here: name the ref", 400)
    parts = text.split("/", 2)
    if len(parts) != 3 or not all(parts):
        raise S3Error(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.",
            400,
        )
    return parts[0], parts[1], parts[2]


async def copy_object(call: Call) -> Response:
    """Within a repository without metadata changes: a metadata-only copy (same bytes);
    across repositories or with ``x-amz-metadata-directive: REPLACE``: the bytes stream
    from the source into the destination (content-addressed, so stored once per
    repository either way)."""
    if not call.path:
        raise S3Error("InvalidArgument", "an object key needs a path after the ref", 400)
    source_repo, source_ref, source_path = copy_source(call.headers["x-amz-copy-source"])
    await call.branch()
    try:
        source = await anyio.to_thread.run_sync(
            lambda: call.engine.stat_object(source_repo, source_ref, source_path)
        )
    except DatasetError as exc:
        if isinstance(exc, NotFoundError):
            raise no_such_key(f"/{source_repo}/{source_ref}/{source_path}") from exc
        raise from_dataset_error(exc, resource=call.resource) from exc
    _copy_conditions(call.headers, source)
    replace = call.headers.get("x-amz-metadata-directive", "COPY").upper() == "REPLACE"
    engine = call.engine
    if source_repo == call.bucket and not replace:
        entry = await call.run(
            lambda: engine.copy_object(
                call.bucket, call.ref, source_path, call.path, src_ref=source_ref
            )
        )
    else:
        content_type = (
            call.headers.get("content-type") or source.content_type
            if replace
            else source.content_type
        )
        metadata = call.metadata() if replace else dict(source.metadata)

        def stream() -> Entry:
            chunks = engine.get_object(source_repo, source_ref, source_path)
            return engine.put_object(
                call.bucket,
                call.ref,
                call.path,
                chunks,
                content_type=content_type,
                metadata=metadata,
            )

        entry = await call.run(stream)
    body = document(
        "CopyObjectResult",
        [element("LastModified", iso(entry.mtime)), element("ETag", etag(entry))],
    )
    return xml_response(body)


def _copy_conditions(headers: dict[str, str], source: Entry) -> None:
    renamed = {
        name.removeprefix("x-amz-copy-source-"): value
        for name, value in headers.items()
        if name.startswith("x-amz-copy-source-if-")
    }
    if renamed and check_conditions(renamed, source) is not None:
        raise S3Error(
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
            412,
        )


async def delete_object(call: Call) -> Response:
    """204 whether or not the object was there, as S3 (and lakeFS's gateway) answer."""
    if not call.path:
        raise S3Error("InvalidArgument", "an object key needs a path after the ref", 400)
    await call.branch()
    try:
        await anyio.to_thread.run_sync(
            lambda: call.engine.delete_object(call.bucket, call.ref, call.path)
        )
    except NotFoundError:
        pass
    except DatasetError as exc:
        raise from_dataset_error(exc, resource=call.resource) from exc
    return Response(status_code=204)


def _deleter(call: Call, ref: str, paths: list[str]) -> Callable[[], list[str]]:
    return lambda: call.engine.delete_objects(call.bucket, ref, paths)


async def delete_objects(call: Call) -> Response:
    """``POST /{repo}?delete``: keys grouped by ref, one engine call per branch; a key
    missing counts as deleted (S3's answer), a ref that is not a branch is an error per key;
    a repository that does not exist is ``NoSuchBucket`` for the whole request, as S3's."""
    await call.check_bucket()
    root = parse(await call.small_body())
    quiet = (root.findtext("Quiet") or "").strip().lower() == "true"
    keys = [(node.findtext("Key") or "") for node in root.findall("Object")]
    if len(keys) > MAX_DELETE_KEYS:
        raise S3Error("MalformedXML", "at most 1000 keys can be deleted at once", 400)
    parts: list[str] = []
    by_ref = itertools.groupby(
        sorted(enumerate(keys), key=lambda item: item[1].partition("/")[0]),
        key=lambda item: item[1].partition("/")[0],
    )
    for ref, group in by_ref:
        items = [key for _i, key in group]
        paths = [key.partition("/")[2] for key in items]
        error: S3Error | None = None
        try:
            await anyio.to_thread.run_sync(_deleter(call, ref, paths))
        except DatasetError as exc:
            error = from_dataset_error(exc, resource=f"/{call.bucket}/{ref}")
            if isinstance(exc, NotFoundError):
                error = S3Error("NoSuchBucket", f"{ref!r} is not a branch", 404)
        for key in items:
            if error is not None:
                parts.append(
                    "<Error>"
                    + element("Key", key)
                    + element("Code", error.code)
                    + element("Message", error.message)
                    + "</Error>"
                )
            elif not quiet:
                parts.append(f"<Deleted>{element('Key', key)}</Deleted>")
    return xml_response(document("DeleteResult", parts))
