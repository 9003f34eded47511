"""Streaming an object as an HTTP response, with ranges, ETags and safe headers."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import HTTPException
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from sartiq_storage.adapters.stores import ObjectInfo, ObjectStore
from sartiq_storage.core.http_headers import (
    RangeNotSatisfiableError,
    content_range,
    http_date,
    parse_byte_range,
    unsatisfied_range,
)

NOSNIFF = {"X-Content-Type-Options": "nosniff"}
SANDBOX = {"Content-Security-Policy": "sandbox; default-src 'none'"}
"""On every object this service serves: an image or a video needs no script, and a legacy SVG
or an upload's bytes must not get one on this origin (tests/hardening/test_browser_scripts.py)."""

_INLINE_TYPES = frozenset(
    {"text/plain", "text/csv", "application/json", "application/octet-stream"}
)
_INLINE_FAMILIES = ("image/", "video/", "audio/")


def is_passive(content_type: str | None) -> bool:
    """Whether a browser may show this type inline: images (not SVG), video, audio, plain
    text, CSV, JSON. Everything else (HTML, SVG, XML, JavaScript, PDF, unknown types) is a
    document or program that could act, so it goes out as an attachment."""
    media = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    if media.endswith(("+xml", "/xml")) or "svg" in media:
        return False
    return media in _INLINE_TYPES or media.startswith(_INLINE_FAMILIES)


def stored_bytes_headers(content_type: str | None, key: str) -> dict[str, str]:
    """The headers every answer carrying stored bytes gets, on every route and API (media,
    compute storage, the embedded store, derivatives, the lakeFS API): ``nosniff``, the
    sandbox, and ``Content-Disposition: attachment`` unless the type is passive."""
    headers = {**NOSNIFF, **SANDBOX}
    if not is_passive(content_type):
        name = key.rstrip("/").rsplit("/", 1)[-1] or "download"
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name, safe='')}"
    return headers


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single ``bytes=a-b`` range as ``[start, end)``; None to send the whole object.

    Multi-range and malformed headers are ignored (RFC 9110 allows serving the whole body).
    """
    if not header:
        return None
    try:
        return parse_byte_range(header, size)
    except RangeNotSatisfiableError as exc:
        raise HTTPException(exc.status, exc.reason, headers=unsatisfied_range(size)) from None


def object_headers(info: ObjectInfo, key: str, cache_control: str | None) -> dict[str, str]:
    """What every answer with a stored object's bytes says of it (before any range): the
    safe headers, ranges accepted, its ETag, caching and date."""
    headers = {**stored_bytes_headers(info.content_type, key), "Accept-Ranges": "bytes"}
    if info.etag:
        headers["ETag"] = f'"{info.etag}"'
    headers["Cache-Control"] = cache_control or info.cache_control or "no-cache"
    headers["Last-Modified"] = http_date(info.last_modified)
    return headers


async def object_response(
    store: ObjectStore,
    key: str,
    request: Request,
    *,
    cache_control: str | None,
    head_only: bool = False,
) -> Response:
    """Serve ``key`` from ``store``: 304 on a matching ETag, 206 for a range, else 200.

    ``request`` gives the ``Range`` and ``If-None-Match`` headers. Every answer carries
    :func:`stored_bytes_headers`, whatever the object.
    """
    range_header = request.headers.get("range")
    if_none_match = request.headers.get("if-none-match")
    info = await run_in_threadpool(store.head, key)
    headers = object_headers(info, key, cache_control)
    media_type = info.content_type or "application/octet-stream"
    if if_none_match and info.etag and info.etag in if_none_match.replace('"', " ").split():
        return Response(status_code=304, headers=headers)
    byte_range = parse_range(range_header, info.size)
    status = 200
    start, end = 0, info.size
    if byte_range is not None:
        start, end = byte_range
        status = 206
        headers["Content-Range"] = content_range(start, end, info.size)
    headers["Content-Length"] = str(end - start)
    if head_only:
        return Response(status_code=status, headers=headers, media_type=media_type)
    stream = await run_in_threadpool(store.get, key, start=start, end=end)
    return StreamingResponse(
        iterate_in_threadpool(iter(stream)),
        status_code=status,
        headers=headers,
        media_type=media_type,
    )
