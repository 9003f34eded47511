"""The body gate: no body is read before authentication, and every body is capped.

Requests stream their bodies from a generator that counts what the app pulled, through httpx
against the real ASGI app (its transport hands a chunk over only when the app asks for one),
and once over a real socket against ``sartiq-storage serve``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sartiq_storage.core.config import MAX_UPLOAD_BYTES
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.interfaces.http.gate import MAX_JSON_BODY_BYTES, MULTIPART_SLACK_BYTES
from sartiq_storage.interfaces.http.lakefs import LAKEFS_API_PREFIX
from sartiq_storage.services.context import StorageContext
from sartiq_storage.testing.moto_server import free_port
from tests.support.asgi import make_app, make_context, request
from tests.support.routes import fill, mutating
from tests.support.serve_process import get_once_up, serve_process

CHUNK = 1024 * 1024
HUGE = 400 * CHUNK
# Authenticated by its signature, checked in the route before it reads a byte: no guard.
NOT_BEARER = {("PUT", "/_storage/objects/{key:key}"), ("PUT", "/_storage/parts/{key:key}")}


class CountingBody:
    """A request body of ``total`` bytes, produced only as the app pulls it."""

    def __init__(self, total: int, chunk: bytes = b" " * CHUNK) -> None:
        self.total = total
        self.chunk = chunk
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:
            part = self.chunk[: self.total - self.pulled]
            self.pulled += len(part)
            yield part


@pytest.fixture
def context(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> StorageContext:
    return make_context(monkeypatch, tmp_path)


async def _send(
    app: FastAPI,
    method: str,
    path: str,
    body: CountingBody,
    headers: dict[str, str],
    *,
    declare: bool = True,
) -> httpx.Response:
    if declare:
        headers = {**headers, "content-length": str(body.total)}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(method, path, content=body, headers=headers)


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_no_token_and_a_huge_body_is_refused_before_any_byte_is_read(
    context: StorageContext,
) -> None:
    """Every route that needs a token, on both apps: 401 with nothing pulled."""
    app = make_app(context)
    lakefs_app = next(r.app for r in app.routes if getattr(r, "path", "") == LAKEFS_API_PREFIX)
    routes = [(m, t, "") for m, t in mutating(app.routes) if (m, t) not in NOT_BEARER]
    routes += [(m, t, LAKEFS_API_PREFIX) for m, t in mutating(lakefs_app.routes)]
    assert len(routes) > 30, routes
    problems = []
    for method, template, prefix in routes:
        for declare in (True, False):  # Content-Length, then chunked
            body = CountingBody(HUGE)
            headers = {"content-type": "application/json"}
            if prefix:  # lakeFS: a wrong secret as well as none
                headers["authorization"] = _basic("AKIA", "wrong")
            reply = _run(
                _send(app, method, prefix + fill(template), body, headers, declare=declare)
            )
            shape = "message" if prefix else "detail"
            if reply.status_code != 401 or body.pulled or shape not in reply.json():
                problems.append(f"{method} {prefix}{template}: {reply.status_code}, {body.pulled}")
    context.close()
    assert problems == []


def test_a_token_without_the_scope_is_refused_before_the_body(context: StorageContext) -> None:
    app = make_app(context)
    token = issue_token(context.jwt_secret, "viewer", scopes=["media:read"])
    body = CountingBody(HUGE)
    reply = _run(
        _send(
            app,
            "POST",
            "/api/v1/media-resources/ingest",
            body,
            {"authorization": f"Bearer {token}", "content-type": "application/json"},
        )
    )
    context.close()
    assert (reply.status_code, body.pulled) == (403, 0)
    assert "media:write" in reply.json()["detail"]


@pytest.mark.parametrize("declare", [True, False], ids=["content-length", "chunked"])
def test_an_over_limit_json_body_is_413_with_a_detail(
    context: StorageContext, declare: bool
) -> None:
    app = make_app(context)
    token = issue_token(context.jwt_secret, "backend")
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    # Valid JSON all along (a list that never ends), so only the size can refuse it.
    body = CountingBody(HUGE, chunk=b"[" + b"1," * (CHUNK // 2 - 1) + b"1")
    reply = _run(_send(app, "POST", "/api/v1/tags/", body, headers, declare=declare))
    assert reply.status_code == 413
    assert str(MAX_JSON_BODY_BYTES) in reply.json()["detail"]
    assert body.pulled <= (0 if declare else MAX_JSON_BODY_BYTES + CHUNK)
    # A body at the limit still goes through to validation (422, not 413).
    ok = CountingBody(MAX_JSON_BODY_BYTES, chunk=b" " * CHUNK)
    assert _run(_send(app, "POST", "/api/v1/tags/", ok, headers)).status_code == 422
    assert context.tags.list_for("backend", None) == []
    context.close()


def test_lakefs_json_over_the_limit_is_413_in_lakefs_shape(context: StorageContext) -> None:
    app = make_app(context)
    auth = _basic(context.datasets_access_key_id or "", context.datasets_secret_access_key or "")
    body = CountingBody(HUGE)
    path = f"{LAKEFS_API_PREFIX}/repositories"
    reply = _run(_send(app, "POST", path, body, {"authorization": auth}, declare=False))
    context.close()
    assert reply.status_code == 413
    assert "message" in reply.json()
    assert body.pulled <= MAX_JSON_BODY_BYTES + CHUNK


def test_an_over_limit_upload_to_the_embedded_put_is_413_and_writes_nothing(
    context: StorageContext,
) -> None:
    app = make_app(context)
    upload = context.uploads.presign("big.png", "image/png", None, requester="hardening")
    url = httpx.URL(upload.upload_url)
    target = url.raw_path.decode()
    headers = {"content-type": "image/png"}
    too_big = MAX_UPLOAD_BYTES + 1
    declared = CountingBody(too_big)
    chunked = CountingBody(too_big)
    reply = _run(_send(app, "PUT", target, declared, headers))
    assert (reply.status_code, declared.pulled) == (413, 0)
    reply = _run(_send(app, "PUT", target, chunked, headers, declare=False))
    assert reply.status_code == 413
    assert isinstance(reply.json()["detail"], str)
    assert chunked.pulled <= MAX_UPLOAD_BYTES + CHUNK
    assert list(context.store.list("")) == []
    context.close()


def test_an_over_limit_compute_upload_is_413_and_writes_nothing(context: StorageContext) -> None:
    app = make_app(context)
    token = issue_token(context.jwt_secret, "compute", scopes=["compute"])
    boundary = "gate"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    body = CountingBody(MAX_UPLOAD_BYTES + MULTIPART_SLACK_BYTES + 1, chunk=head + b"\0" * CHUNK)
    headers = {
        "authorization": f"Bearer {token}",
        "content-type": f"multipart/form-data; boundary={boundary}",
    }
    reply = _run(_send(app, "POST", "/api/v1/storage/images/a.png", body, headers, declare=False))
    assert reply.status_code == 413
    assert list(context.store.list("")) == []
    context.close()


def test_a_huge_lakefs_upload_is_refused_by_its_declared_length(context: StorageContext) -> None:
    app = make_app(context)
    auth = _basic(context.datasets_access_key_id or "", context.datasets_secret_access_key or "")
    body = CountingBody(6 * 1024**3)
    path = f"{LAKEFS_API_PREFIX}/repositories/r/branches/main/objects?path=a.bin"
    reply = _run(_send(app, "POST", path, body, {"authorization": auth}))
    context.close()
    assert (reply.status_code, body.pulled) == (413, 0)
    assert "message" in reply.json()


def _answer(port: int, head: bytes, body_part: bytes) -> tuple[int, dict[str, Any]]:
    """Send a request's head and only the start of its body; read the answer that comes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + body_part)
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(payload)


def test_a_running_serve_answers_before_the_body_arrives(tmp_path: Path) -> None:
    """Over a real socket: the answer comes while 400 MB are still owed."""
    port = free_port()
    with serve_process(tmp_path, port) as proc:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        token = ""
        while time.monotonic() < deadline and not token:
            line = proc.stdout.readline()
            token = line.strip() if line.startswith("eyJ") else ""
        get_once_up(f"http://127.0.0.1:{port}/healthz")

        def head(extra: str = "", length: int = HUGE) -> bytes:
            return (
                "POST /api/v1/media-resources/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/json\r\nContent-Length: {length}\r\n{extra}\r\n"
            ).encode()

        status, payload = _answer(port, head(), b'{"media": ' + b" " * 65536)
        assert (status, payload) == (401, {"detail": "missing bearer token"})
        status, payload = _answer(port, head(f"Authorization: Bearer {token}\r\n"), b"[" * 65536)
        assert status == 413
        assert str(MAX_JSON_BODY_BYTES) in payload["detail"]
        status, payload = _answer(port, head("Authorization: Bearer \xff\r\n", 10), b"{}" * 5)
        assert (status, payload["detail"]) == (401, "invalid token")


def test_an_http2_body_without_a_length_is_capped_too(context: StorageContext) -> None:
    """HTTP/2 may send a body with neither Content-Length nor chunked encoding."""
    app = make_app(context)
    big = b"[" + b"1," * (MAX_JSON_BODY_BYTES // 2) + b"1]"
    token = ("authorization", f"Bearer {issue_token(context.jwt_secret, 'backend')}")
    try:
        reply = _run(
            request(app, "POST", b"/api/v1/tags/", headers=[token], body=big, http_version="2")
        )
        refused = _run(request(app, "POST", b"/api/v1/tags/", body=big, http_version="2"))
    finally:
        context.close()
    assert reply.status == 413
    assert refused.status == 401
