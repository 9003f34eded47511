"""Served content: ``nosniff`` on every object and redirect; ``temp/`` never served as trusted.

Every route that returns object bytes or a redirect to them (``/files`` and its conversions,
the embedded public and signed GETs, the compute GET and HEAD) carries
``X-Content-Type-Options: nosniff`` on each of its answers (200, 206, 304, HEAD, 302). A guard
test fails if a new route takes an object key (the ``key`` path convertor) without being
listed here. The ``temp/`` policy (``docs/reliability.md``): ``/files`` neither redirects to
nor converts a ``temp/`` key (404); the embedded store serves ``temp/`` bytes only with
``Content-Security-Policy: sandbox``, ``no-store`` and ``nosniff``, under the content type that
was signed at presign time, which is always an image or video type.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI

from sartiq_storage.core.policies import IMMUTABLE
from sartiq_storage.services.context import StorageContext
from sartiq_storage.testing.media import image_bytes
from tests.support.asgi import Reply, bearer, make_app, make_context, request, to_wire
from tests.support.routes import RouteInfo, iter_routes

MEDIA = "media/0b8f3c1e-6d1a-4f7e-9a57-3d1f0b2c4e5a/file.png"
LEGACY = "images/products/abc123/product_abc123_SKU001_d4e5f6_cover.png"
TEMP = "temp/abc123_1706000000_upload.png"
POLYGLOT = b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>"

# Every GET/HEAD route that takes an object key, and the status it answers for a stored PNG.
SERVED = {
    ("GET", "/files/{file_path:key}"),
    ("GET", "/_storage/derived/{fmt}/{file_path:key}"),
    ("HEAD", "/_storage/derived/{fmt}/{file_path:key}"),
    ("GET", "/_storage/public/{key:key}"),
    ("HEAD", "/_storage/public/{key:key}"),
    ("GET", "/_storage/objects/{key:key}"),
    ("GET", "/api/v1/storage/images/{path:key}"),
    ("HEAD", "/api/v1/storage/images/{path:key}"),
}


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[StorageContext]:
    context = make_context(monkeypatch, tmp_path)
    png = image_bytes("png")
    context.store.put(MEDIA, png, content_type="image/png", cache_control=IMMUTABLE)
    context.store.put(LEGACY, png, content_type="image/png", cache_control=IMMUTABLE)
    context.store.put(TEMP, POLYGLOT, content_type="image/png", cache_control="no-store")
    yield context
    context.close()


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _nosniff(reply: Reply, what: str) -> None:
    assert reply.status < 500, (what, reply.status, reply.body[:200])
    assert reply.header("x-content-type-options") == "nosniff", (what, reply.status)


def test_every_key_route_is_covered_here(embedded: StorageContext) -> None:
    app = make_app(embedded)
    taking_keys = {
        (method, info.path)
        for info in iter_routes(app.routes)
        if isinstance(info, RouteInfo) and ":key}" in info.path
        for method in info.methods & {"GET", "HEAD"}
    }
    assert taking_keys == SERVED  # a new object-serving route must be added to this file


async def _all_answers(app: FastAPI, context: StorageContext) -> list[tuple[str, Reply]]:
    """Each served route with plain, ranged, conditional and HEAD requests."""
    got: list[tuple[str, Reply]] = []

    async def ask(method: str, url: str, headers: list[tuple[str, str]] | None = None) -> Reply:
        reply = await request(app, method, to_wire(url), headers=headers or [])
        got.append((f"{method} {url} {headers or ''}", reply))
        return reply

    for key in (MEDIA, LEGACY):
        for query in ("", "?type=webp", "?type=auto"):
            redirect = await ask("GET", f"/files/{key}{query}", [("accept", "image/webp")])
            await ask("HEAD", f"/files/{key}{query}")
            assert redirect.status == 302
            location = redirect.header("location") or ""
            local = urlsplit(location).path
            first = await ask("GET", local)
            assert first.status == 200, (location, first.body[:200])
            await ask("HEAD", local)
            await ask("GET", local, [("range", "bytes=0-9")])
            await ask("GET", local, [("if-none-match", first.header("etag") or "")])
        signed = _local(context.store.presign_get(key, expires_in=60).url)
        await ask("GET", signed)
        await ask("GET", signed, [("range", "bytes=2-")])
    compute = await request(
        app,
        "POST",
        b"/api/v1/storage/images/generations/t1/result_0.png",
        headers=[bearer(context), ("content-type", "multipart/form-data; boundary=b")],
        body=b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + image_bytes("png") + b"\r\n--b--\r\n",
    )
    assert compute.status == 201, compute.body
    token = bearer(context)  # the compute storage API reads with a token too
    await ask("GET", "/api/v1/storage/images/generations/t1/result_0.png", [token])
    await ask("HEAD", "/api/v1/storage/images/generations/t1/result_0.png", [token])
    await ask(
        "GET",
        "/api/v1/storage/images/generations/t1/result_0.png",
        [token, ("range", "bytes=1-3")],
    )
    return got


def test_nosniff_on_every_served_object_and_redirect(embedded: StorageContext) -> None:
    app = make_app(embedded)
    answers = asyncio.run(_all_answers(app, embedded))
    statuses = {reply.status for _, reply in answers}
    assert statuses >= {200, 206, 302, 304}
    for what, reply in answers:
        _nosniff(reply, what)
        if reply.status in (200, 206) and reply.body:  # bytes from this origin: sandboxed
            csp = reply.header("content-security-policy") or ""
            assert csp.startswith("sandbox"), what


def test_nosniff_on_production_redirects(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = {
        "ENVIRONMENT": "production",
        "R2_ENDPOINT_URL": "https://acc.r2.cloudflarestorage.com",
        "R2_ACCESS_KEY_ID": "id",
        "R2_SECRET_ACCESS_KEY": "secret",
        "CLOUDFLARE_IMAGE_TRANSFORMATIONS_ENABLED": "true",
    }
    context = make_context(monkeypatch, tmp_path, **env)
    app = make_app(context)

    async def run() -> list[Reply]:
        return [
            await request(app, "GET", to_wire(f"/files/{MEDIA}")),
            await request(app, "GET", to_wire(f"/files/{MEDIA}?type=avif")),
            await request(
                app,
                "GET",
                b"/api/v1/storage/images/generations/t1/result_0.webp",
                headers=[bearer(context)],
            ),
        ]

    try:
        replies = asyncio.run(run())
    finally:
        context.close()
    for reply in replies:
        assert reply.status == 302
        assert (reply.header("location") or "").startswith("https://media.sartiq.com/")
        _nosniff(reply, reply.header("location") or "")


# -- temp/ -----------------------------------------------------------------------------------


def test_files_never_redirects_to_or_converts_temp(embedded: StorageContext) -> None:
    app = make_app(embedded)
    slow = make_app(embedded, fast=False)

    async def run() -> list[Reply]:
        replies = []
        for target in (TEMP, f"{TEMP}?type=webp", f"{TEMP}?type=auto", "temp/other/x.png"):
            for each in (app, slow):
                replies.append(await request(each, "GET", to_wire(f"/files/{target}")))
        replies.append(await request(app, "GET", to_wire(f"/_storage/derived/webp/{TEMP}")))
        replies.append(await request(app, "HEAD", to_wire(f"/_storage/derived/png/{TEMP}")))
        return replies

    replies = asyncio.run(run())
    for reply in replies:
        assert reply.status == 404, reply.body
        assert reply.header("location") is None
    assert "unverified" in replies[0].json()["detail"]
    assert list(embedded.store.list("derived/")) == []  # nothing was decoded or converted


def test_temp_bytes_are_sandboxed_uncached_and_typed(embedded: StorageContext) -> None:
    app = make_app(embedded)
    signed = _local(embedded.store.presign_get(TEMP, expires_in=60).url)

    async def run() -> list[Reply]:
        return [
            await request(app, "GET", to_wire(f"/_storage/public/{TEMP}")),
            await request(app, "HEAD", to_wire(f"/_storage/public/{TEMP}")),
            await request(
                app, "GET", to_wire(f"/_storage/public/{TEMP}"), headers=[("range", "bytes=0-3")]
            ),
            await request(app, "GET", to_wire(signed)),
        ]

    for reply in asyncio.run(run()):
        assert reply.status in (200, 206)
        _nosniff(reply, "temp")
        csp = reply.header("content-security-policy") or ""
        assert csp.split(";")[0].strip() == "sandbox"
        assert "default-src 'none'" in csp
        assert "no-store" in (reply.header("cache-control") or "")
        assert reply.header("content-type") == "image/png"  # what was signed, never sniffed


def test_trusted_zones_keep_their_caching_under_the_sandbox(embedded: StorageContext) -> None:
    """Every object is sandboxed (a legacy SVG must not script this origin either:
    test_browser_scripts.py); only temp/ loses caching, media/ stays immutable."""
    app = make_app(embedded)
    reply = asyncio.run(request(app, "GET", to_wire(f"/_storage/public/{MEDIA}")))
    assert reply.status == 200
    assert (reply.header("content-security-policy") or "").startswith("sandbox")
    assert reply.header("cache-control") == IMMUTABLE


def test_presign_refuses_active_content_types(embedded: StorageContext) -> None:
    """temp/ bytes are stored under a signed image/video type: HTML, SVG and the like never."""
    app = make_app(embedded)

    async def run(content_type: str) -> Reply:
        body = f'{{"filename": "a.html", "content_type": "{content_type}"}}'.encode()
        return await request(
            app,
            "POST",
            b"/api/v1/uploads/presigned-url",
            headers=[bearer(embedded), ("content-type", "application/json")],
            body=body,
        )

    for content_type in ("text/html", "image/svg+xml", "application/xhtml+xml", "text/xml"):
        assert asyncio.run(run(content_type)).status == 422, content_type
    assert asyncio.run(run("image/png")).status == 200


# -- active content: HTML, SVG, XML, JavaScript --------------------------------------------

ACTIVE = {
    "page.html": "text/html",
    "page.xhtml": "application/xhtml+xml; charset=utf-8",
    "drawing.svg": "image/svg+xml",
    "feed.xml": "text/xml",
    "app.js": "text/javascript",
}
SCRIPT = b"<html><body><script>document.title='ran'</script></body></html>"


def _basic(context: StorageContext) -> tuple[str, str]:
    pair = f"{context.datasets_access_key_id}:{context.datasets_secret_access_key}"
    return ("authorization", "Basic " + base64.b64encode(pair.encode()).decode())


def _stored_bytes_headers_hold(reply: Reply, what: str, *, attachment: bool) -> None:
    assert reply.status in (200, 206), (what, reply.status, reply.body[:200])
    _nosniff(reply, what)
    assert reply.header("content-security-policy") == "sandbox; default-src 'none'", what
    disposition = reply.header("content-disposition")
    if attachment:
        assert (disposition or "").startswith("attachment;"), (what, disposition)
    else:
        assert disposition is None, (what, disposition)


def test_every_route_serving_stored_bytes_sandboxes_and_attaches_active_content(
    embedded: StorageContext,
) -> None:
    """An HTML, XHTML, SVG, XML or JavaScript object is an attachment, sandboxed and
    ``nosniff``, on every route that returns stored bytes: the lakeFS API's getObject, the
    compute storage, the embedded public and presigned GETs; a PNG there (and a derivative)
    stays inline, still sandboxed."""
    app = make_app(embedded)
    lakefs = "/lakefs/api/v1/repositories/site/refs/main/objects?path="
    media = "media/0b8f3c1e-6d1a-4f7e-9a57-3d1f0b2c4e5b/"

    async def run() -> list[tuple[str, Reply, bool]]:
        created = await request(
            app,
            "POST",
            b"/lakefs/api/v1/repositories",
            headers=[_basic(embedded), ("content-type", "application/json")],
            body=b'{"name": "site", "storage_namespace": "local://datasets/site"}',
        )
        assert created.status == 201, created.body
        got: list[tuple[str, Reply, bool]] = []
        for name, content_type in {**ACTIVE, "photo.png": "image/png"}.items():
            active = name in ACTIVE
            body = SCRIPT if active else image_bytes("png")
            put = await request(
                app,
                "POST",
                f"/lakefs/api/v1/repositories/site/branches/main/objects?path={name}".encode(),
                headers=[_basic(embedded), ("content-type", content_type)],
                body=body,
            )
            assert put.status == 201, put.body
            embedded.store.put(f"compute/site/{name}", body, content_type=content_type)
            embedded.store.put(f"{media}{name}", body, content_type=content_type)
            signed = _local(embedded.store.presign_get(f"{media}{name}", expires_in=60).url)
            targets = [
                ("GET", f"{lakefs}{name}", [_basic(embedded)]),
                ("HEAD", f"{lakefs}{name}", [_basic(embedded)]),
                ("GET", f"{lakefs}{name}", [_basic(embedded), ("range", "bytes=0-5")]),
                ("GET", f"/api/v1/storage/images/site/{name}", [bearer(embedded)]),
                ("HEAD", f"/api/v1/storage/images/site/{name}", [bearer(embedded)]),
                ("GET", f"/_storage/public/{media}{name}", []),
                ("HEAD", f"/_storage/public/{media}{name}", []),
                ("GET", signed, []),
            ]
            for method, target, headers in targets:
                reply = await request(app, method, to_wire(target), headers=headers)
                got.append((f"{method} {target}", reply, active))
        derived = await request(app, "GET", to_wire(f"/_storage/derived/webp/{MEDIA}"))
        got.append(("derivative", derived, False))
        return got

    answers = asyncio.run(run())
    assert len(answers) == 6 * 8 + 1
    for what, reply, active in answers:
        _stored_bytes_headers_hold(reply, what, attachment=active)
    page = next(r for w, r, _a in answers if w.startswith("GET /lakefs") and "page.html" in w)
    assert page.body == SCRIPT  # served as stored, only never as a page of this origin
    assert page.header("content-disposition") == "attachment; filename*=UTF-8''page.html"
