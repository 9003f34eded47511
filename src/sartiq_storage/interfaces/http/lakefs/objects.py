"""Objects: upload (multipart or raw), streamed download with ranges, stat, list, delete, copy."""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from typing import IO

from fastapi import Header, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from sartiq_storage.core.datasets import errors as e
from sartiq_storage.core.datasets.model import Entry
from sartiq_storage.core.datasets.protocol import DatasetStore
from sartiq_storage.core.http_headers import (
    RangeNotSatisfiableError,
    content_range,
    http_date,
    parse_byte_range,
    unsatisfied_range,
)
from sartiq_storage.interfaces.http.gate import MULTIPART_SLACK_BYTES, body_limit
from sartiq_storage.interfaces.http.lakefs.auth import EngineDep
from sartiq_storage.interfaces.http.lakefs.common import Amount, Path, authed_router, clamp
from sartiq_storage.interfaces.http.lakefs.errors import error
from sartiq_storage.interfaces.http.lakefs.presigning import can_presign, presigner
from sartiq_storage.interfaces.http.lakefs.schemas import (
    MAX_AMOUNT,
    ObjectCopyCreation,
    ObjectErrorList,
    ObjectStats,
    ObjectStatsList,
    Pagination,
    PathList,
)
from sartiq_storage.interfaces.http.lakefs.traffic import TRAFFIC
from sartiq_storage.interfaces.http.responses import stored_bytes_headers

router = authed_router()
META_PREFIX = "x-lakefs-meta-"
SPOOL_IN_MEMORY = 8 * 1024 * 1024
MAX_OBJECT_BYTES = 5 * 1024**3
"""The largest object one upload takes: S3's (and so lakeFS's) single PUT limit."""
_RANGE_SYNTAX = re.compile(r"^bytes=(?:\d*+-\d*+,? ?)+$")
"""What lakeFS's spec (``^bytes=((\\d*-\\d*,? ?)+)$``) lets through to its handler; anything
else is 400 there. Possessive: the spec's pattern as written backtracks exponentially on a
header such as ``bytes=-1-1-1…x`` (50 s for 18 repeats, on the event loop)."""


def _user_metadata(request: Request) -> dict[str, str]:
    """``X-Lakefs-Meta-<key>`` headers; keys arrive lower-cased, as HTTP makes them."""
    return {
        name[len(META_PREFIX) :]: value
        for name, value in request.headers.items()
        if name.lower().startswith(META_PREFIX) and len(name) > len(META_PREFIX)
    }


async def _spool(request: Request) -> IO[bytes]:
    """The raw body, in memory up to 8 MiB and on disk beyond, so uploads never pin RAM."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    async for chunk in request.stream():
        TRAFFIC.add_received(len(chunk))
        spool.write(chunk)
    spool.seek(0)
    return spool


@router.post(
    "/repositories/{repository}/branches/{branch}/objects",
    status_code=201,
    response_model_exclude_none=True,
)
@body_limit(MAX_OBJECT_BYTES + MULTIPART_SLACK_BYTES)
async def upload_object(
    repository: str,
    branch: str,
    path: Path,
    request: Request,
    engine: EngineDep,
    if_none_match: str | None = Header(default=None),
    if_match: str | None = Header(default=None),
    force: bool = False,
) -> ObjectStats:
    """The bytes come as the multipart field ``content`` or as the whole body (the high-level
    SDK's way, with the object's own Content-Type); ``If-None-Match: *`` makes it create-only.
    """
    if if_none_match is not None and if_none_match.strip() != "*":
        raise e.InvalidArgumentError("If-None-Match supports only '*'")
    if if_match is not None:
        raise e.InvalidArgumentError("If-Match is not supported")
    header_type = request.headers.get("content-type", "")
    content_type: str | None
    if header_type.lower().startswith("multipart/form-data"):
        form = await request.form()
        content = form.get("content")
        if not isinstance(content, UploadFile):
            raise e.InvalidArgumentError("multipart upload without a 'content' file field")
        data: IO[bytes] = content.file
        content_type = content.content_type or None
        TRAFFIC.add_received(content.size or 0)
    else:
        data = await _spool(request)
        content_type = header_type or None
    try:
        entry = await run_in_threadpool(
            engine.put_object,
            repository,
            branch,
            path,
            data,
            content_type=content_type,
            metadata=_user_metadata(request),
            if_absent=if_none_match is not None,
        )
    finally:
        data.close()
    return ObjectStats.of(
        entry, namespace=await run_in_threadpool(_namespace, engine, repository, entry)
    )


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` of a single ``bytes=`` range; None to send everything.

    As lakeFS: a header its spec's pattern refuses is 400 (InvalidArgumentError); several ranges,
    an empty one, or any range of an empty object are 416 like an unsatisfiable one.
    """
    if header is None:
        return None
    if _RANGE_SYNTAX.match(header) is None:
        raise e.InvalidArgumentError(f"Range: {header!r} does not match ^bytes=((\\d*-\\d*,? ?)+)$")
    span = parse_byte_range(header, size)
    if span is None or span[0] >= size:
        raise RangeNotSatisfiableError("range not satisfiable")
    return span


def _object_headers(entry: Entry) -> dict[str, str]:
    """As on every route that serves stored bytes: this API shares the console's origin."""
    return {
        "ETag": f'"{entry.checksum}"',
        "Last-Modified": http_date(entry.mtime),
        "Accept-Ranges": "bytes",
        "Content-Type": entry.content_type or "application/octet-stream",
        **stored_bytes_headers(entry.content_type, entry.path),
    }


def _open(
    engine: DatasetStore, repository: str, ref: str, path: str, start: int | None, end: int | None
) -> tuple[bytes, Iterator[bytes]]:
    """Start the read here, so a missing or collected object fails before any header is sent."""
    chunks = iter(engine.get_object(repository, ref, path, start=start, end=end))
    return next(chunks, b""), chunks


def _rest(first: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from chunks


def _presigned_redirect(engine: DatasetStore, repository: str, ref: str, path: str) -> Response:
    """lakeFS's answer to ``presign=true``: 302 to the store's own GET for the bytes."""
    _entry, request = presigner(engine).presign_download(repository, ref, path)
    return Response(status_code=302, headers={"Location": request.url})


@router.get(
    "/repositories/{repository}/refs/{ref}/objects",
    responses={302: {"description": "presign=true: to the store's presigned GET"}},
)
async def get_object(
    repository: str,
    ref: str,
    path: Path,
    engine: EngineDep,
    range: str | None = Header(default=None),
    presign: bool = False,
) -> Response:
    """Streamed, with ``Range`` (206, or 416 with ``Content-Range: bytes */size``); with
    ``presign=true`` a 302 to the store (the client sends its ``Range`` there)."""
    if presign and can_presign(engine):
        return await run_in_threadpool(_presigned_redirect, engine, repository, ref, path)
    entry = await run_in_threadpool(engine.stat_object, repository, ref, path)
    headers = _object_headers(entry)
    try:
        span = _byte_range(range, entry.size)
    except RangeNotSatisfiableError:
        return error(416, "Requested Range Not Satisfiable", unsatisfied_range(entry.size))
    start, end = span if span is not None else (None, None)
    first, chunks = await run_in_threadpool(_open, engine, repository, ref, path, start, end)
    status = 200
    length = entry.size
    if span is not None:
        status = 206
        length = span[1] - span[0]
        headers["Content-Range"] = content_range(span[0], span[1], entry.size)
    headers["Content-Length"] = str(length)
    return StreamingResponse(
        TRAFFIC.counting(_rest(first, chunks)), status_code=status, headers=headers, media_type=None
    )


@router.head("/repositories/{repository}/refs/{ref}/objects")
def head_object(repository: str, ref: str, path: Path, engine: EngineDep) -> Response:
    entry = engine.stat_object(repository, ref, path)
    headers = _object_headers(entry)
    headers["Content-Length"] = str(entry.size)
    return Response(status_code=200, headers=headers)


@router.get("/repositories/{repository}/refs/{ref}/objects/stat", response_model_exclude_none=True)
def stat_object(
    repository: str,
    ref: str,
    path: Path,
    engine: EngineDep,
    user_metadata: bool = True,
    presign: bool = False,
) -> ObjectStats:
    entry = engine.stat_object(repository, ref, path)
    stats = ObjectStats.of(
        entry, user_metadata=user_metadata, namespace=_namespace(engine, repository, entry)
    )
    return (
        _presigned(engine, repository, entry, stats) if presign and can_presign(engine) else stats
    )


@router.get("/repositories/{repository}/refs/{ref}/objects/ls", response_model_exclude_none=True)
def list_objects(
    repository: str,
    ref: str,
    engine: EngineDep,
    user_metadata: bool = True,
    presign: bool = False,
    after: str = "",
    amount: Amount = 100,
    delimiter: str = "",
    prefix: str = "",
) -> ObjectStatsList:
    listing = engine.list_objects(
        repository, ref, prefix=prefix, delimiter=delimiter, after=after, amount=clamp(amount)
    )
    namespace = _namespace(engine, repository, *listing.items)
    items = [
        _presigned(engine, repository, i, ObjectStats.of(i, user_metadata=user_metadata))
        if presign and isinstance(i, Entry) and can_presign(engine)
        else ObjectStats.of(i, user_metadata=user_metadata, namespace=namespace)
        for i in listing.items
    ]
    pagination = Pagination(
        has_more=listing.has_more,
        next_offset=(listing.next_offset or (items[-1].path if items else ""))
        if listing.has_more
        else "",
        results=len(items),
        max_per_page=MAX_AMOUNT,
    )
    return ObjectStatsList(pagination=pagination, results=items)


def _presigned(
    engine: DatasetStore, repository: str, entry: Entry, stats: ObjectStats
) -> ObjectStats:
    """``stats`` with ``physical_address`` a presigned GET URL, as lakeFS answers presign=true."""
    request = presigner(engine).presign_entry(repository, entry)
    return stats.model_copy(
        update={
            "physical_address": request.url,
            "physical_address_expiry": int(time.time()) + request.expires_in,
        }
    )


@router.delete("/repositories/{repository}/branches/{branch}/objects", status_code=204)
def delete_object(
    repository: str,
    branch: str,
    path: Path,
    engine: EngineDep,
    force: bool = False,
    no_tombstone: bool = False,
) -> Response:
    """A missing object is not an error (lakeFS's rule); a missing branch still is."""
    try:
        engine.delete_object(repository, branch, path)
    except e.NotFoundError:
        engine.get_branch(repository, branch)
    return Response(status_code=204)


@router.post("/repositories/{repository}/branches/{branch}/objects/delete")
def delete_objects(
    repository: str,
    branch: str,
    body: PathList,
    engine: EngineDep,
    force: bool = False,
    no_tombstone: bool = False,
) -> ObjectErrorList:
    if len(body.paths) > MAX_AMOUNT:
        raise e.InvalidArgumentError(f"at most {MAX_AMOUNT} paths per request")
    engine.delete_objects(repository, branch, body.paths)
    return ObjectErrorList(errors=[])


@router.post(
    "/repositories/{repository}/branches/{branch}/objects/copy",
    status_code=201,
    response_model_exclude_none=True,
)
def copy_object(
    repository: str, branch: str, dest_path: str, body: ObjectCopyCreation, engine: EngineDep
) -> ObjectStats:
    entry = engine.copy_object(
        repository, branch, body.src_path, dest_path, src_ref=body.src_ref or branch
    )
    return ObjectStats.of(entry, namespace=_namespace(engine, repository, entry))


def _namespace(engine: DatasetStore, repository: str, *items: object) -> str:
    """The repository's storage namespace, which qualifies its entries' relative addresses;
    not looked up when every address is already a full URI (a real lakeFS's, an import's)."""
    if all("://" in getattr(item, "address", "://") for item in items):
        return ""
    return engine.get_repository(repository).storage_namespace
