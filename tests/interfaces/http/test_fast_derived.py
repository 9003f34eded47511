"""Cached derivatives answered as static files (``fast_derived.py``): the same answers as the
documented route, found again by two ``stat`` calls, and the route still answering everything
else (first requests, ranges, a deleted or replaced source, a swept derivative)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sartiq_storage.interfaces.http import fast_derived
from sartiq_storage.services.context import StorageContext
from sartiq_storage.testing.media import image_bytes
from tests.support.asgi import Reply, make_app, make_context, request

KEY = "media/0b6f4a52-5a8e-4d0e-9f3c-6a1d2c3e4f50/file.png"
URL = f"/_storage/derived/webp/{KEY}".encode()
ORIGIN = "http://localhost:3000"
VOLATILE = {b"x-request-id", b"date"}


@pytest.fixture
def context(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> StorageContext:
    context = make_context(monkeypatch, tmp_path, WEB_APP_ORIGINS=ORIGIN)
    context.store.put(KEY, image_bytes("png", 80, 60), content_type="image/png")
    return context


def _run(app: Any, method: str, target: bytes, headers: list[tuple[str, str]]) -> Reply:
    return asyncio.run(request(app, method, target, headers=headers))


def _stable(reply: Reply) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    ignored = set(VOLATILE)
    if reply.header("access-control-allow-origin") is None:
        # Starlette's CORS layer names exposed headers to any Origin; without an allowed
        # origin a browser reads nothing either way, and the fast paths leave them out.
        ignored.add(b"access-control-expose-headers")
    return reply.status, sorted(h for h in reply.headers if h[0] not in ignored), reply.body


def test_kept_answers_are_the_routes_own(context: StorageContext) -> None:
    fast, routed = make_app(context), make_app(context, fast=False)
    first = _run(fast, "GET", URL, [])  # made by the route, then kept
    assert first.status == 200
    assert first.body[8:12] == b"WEBP"
    etag = first.header("etag")
    assert etag
    cases: list[tuple[str, list[tuple[str, str]]]] = [
        ("GET", []),
        ("HEAD", []),
        ("GET", [("origin", ORIGIN)]),
        ("GET", [("origin", "https://elsewhere.example")]),
        ("GET", [("if-none-match", etag)]),
        ("GET", [("if-none-match", '"something-else"')]),
        ("GET", [("range", "bytes=0-9")]),  # the route's own, both sides
        ("GET", [("x-request-id", "trace-1")]),
    ]
    for method, headers in cases:
        a, b = _run(fast, method, URL, headers), _run(routed, method, URL, headers)
        assert _stable(a) == _stable(b), (method, headers)
        assert len([v for n, v in a.headers if n == b"x-request-id"]) == 1
    assert _run(fast, "GET", URL, [("if-none-match", etag)]).status == 304
    assert _run(fast, "GET", URL, [("x-request-id", "trace-1")]).header("x-request-id") == (
        "trace-1"
    )


def _scope(path: bytes, *, pathsend: bool = False) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": path.decode(),
        "raw_path": path,
        "query_string": b"",
        "headers": [],
        "extensions": {fast_derived.PATHSEND: {}} if pathsend else {},
    }


def _handle(app: Any, path: bytes, *, pathsend: bool = False) -> tuple[bool, list[Any]]:
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    handled = asyncio.run(app.fast_derived.handled(_scope(path, pathsend=pathsend), receive, send))
    return handled, sent


def test_only_a_made_derivative_is_answered_and_pathsend_is_used(
    context: StorageContext,
) -> None:
    app = make_app(context)
    assert app.fast_derived is not None
    assert _handle(app, URL) == (False, [])  # not made yet: the route makes it
    made = _run(app, "GET", URL, [])
    handled, sent = _handle(app, URL, pathsend=True)
    assert handled
    assert sent[0]["status"] == 200
    assert sent[1]["type"] == "http.response.pathsend"
    assert Path(sent[1]["path"]).read_bytes() == made.body
    handled, sent = _handle(app, URL)
    assert handled
    assert sent[1]["body"] == made.body
    assert _handle(app, b"/_storage/derived/tiff/" + KEY.encode()) == (False, [])
    assert _handle(app, b"/_storage/derived/webp/media/../etc/passwd") == (False, [])


def test_a_deleted_source_is_404_and_a_replaced_one_gets_its_own_derivative(
    context: StorageContext,
) -> None:
    app = make_app(context)
    old = _run(app, "GET", URL, []).body
    assert _run(app, "GET", URL, []).body == old  # kept now
    context.store.put(KEY, image_bytes("png", 40, 30), content_type="image/png")
    new = _run(app, "GET", URL, [])
    assert new.status == 200
    assert new.body != old
    context.store.delete(KEY)
    gone = _run(app, "GET", URL, [])
    assert gone.status == 404
    assert gone.json()["detail"]


def test_a_swept_derivative_is_made_again(context: StorageContext) -> None:
    app = make_app(context)
    first = _run(app, "GET", URL, [])
    for info in list(context.store.list("derived/")):
        context.store.delete(info.key)
    assert _handle(app, URL) == (False, [])  # the kept answer no longer matches the disk
    again = _run(app, "GET", URL, [])
    assert again.status == 200
    assert again.body == first.body


def test_a_large_derivative_without_pathsend_is_streamed_by_the_route(
    context: StorageContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(context)
    made = _run(app, "GET", URL, [])
    monkeypatch.setattr(fast_derived, "READ_WHOLE", 10)
    assert _handle(app, URL) == (False, [])
    assert _run(app, "GET", URL, []).body == made.body
    assert _handle(app, URL, pathsend=True)[0]  # the server sends the file itself


def test_on_s3_the_route_answers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    context = make_context(monkeypatch, tmp_path, STORAGE_BACKEND="memory")
    assert make_app(context).fast_derived is None


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "route only"])
def test_a_fresh_conversion_answers_as_the_stored_derivative_does(
    context: StorageContext, fast: bool
) -> None:
    """The first GET is answered from the bytes just converted and stored (no second read):
    the same status, headers and body as every later answer read from the store."""
    app = make_app(context, fast=fast)
    first = _run(app, "GET", URL, [])
    assert first.status == 200
    later = _run(make_app(context, fast=False), "GET", URL, [])
    assert _stable(first) == _stable(later)
    [derivative] = context.store.list("derived/")
    assert context.store.get_bytes(derivative.key) == first.body
    other = "media/1c7f5b63-6b9f-4e1f-8a4d-7b2e3d4f5061/file.png"  # a range on a fresh one:
    context.store.put(other, image_bytes("png", 50, 40), content_type="image/png")
    ranged = _run(app, "GET", f"/_storage/derived/webp/{other}".encode(), [("range", "bytes=0-9")])
    assert (ranged.status, len(ranged.body)) == (206, 10)  # the route reads it back
