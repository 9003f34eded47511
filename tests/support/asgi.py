"""Drive the real ASGI app with raw request targets, as a server would hand them over.

HTTP clients (httpx, browsers) rewrite what they send: they resolve ``..``, turn ``\\`` into
``/`` and percent-encode characters. Attack payloads must reach the app byte for byte, so these
helpers build the ASGI scope themselves with uvicorn's semantics: ``raw_path`` is the target's
path as received, and ``path`` is it percent-decoded exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from fastapi import FastAPI

from sartiq_storage.core.config import load_settings
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services.context import StorageContext, build_context
from tests.support.error_bodies import report

ASGIApp = Callable[..., Awaitable[None]]


@dataclass
class Reply:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    raw_headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode("latin-1")
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None

    def json(self) -> Any:
        return json.loads(self.body)


def to_wire(target: str) -> bytes:
    """A request target as a client would put it on the wire: non-ASCII and controls encoded.

    Everything else (``%``, ``\\``, ``?``) is kept literally, so percent-escapes in a payload
    arrive still escaped.
    """
    return quote(target, safe="".join(chr(c) for c in range(0x21, 0x7F))).encode("ascii")


async def request(
    app: ASGIApp,
    method: str,
    target: bytes,
    *,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    http_version: str = "1.1",
) -> Reply:
    """One request through ``app``; ``target`` is the raw path plus optional ``?query``."""
    raw_path, _, query = target.partition(b"?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": http_version,
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path.decode("ascii")),
        "raw_path": raw_path,
        "root_path": "",
        "query_string": query,
        "headers": [
            (b"host", b"testserver"),
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    sent_body = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # a disconnect never comes while the app still runs
        return {"type": "http.disconnect"}

    reply = Reply(0, [])
    chunks: list[bytes] = []

    async def send(message: Mapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            reply.status = message["status"]
            reply.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    await app(scope, receive, send)
    reply.body = b"".join(chunks)
    report(reply.status, reply.body, f"{method} {target!r}")
    return reply


_OURS = ("R2_", "STORAGE_", "CDN_", "AUTH_", "CLOUDFLARE_", "LAKEFS_", "DATASETS_")


def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting of the developer's shell reaches the app (as ``tests/conftest.py`` does)."""
    for name in list(os.environ):
        if name.startswith(_OURS) or name in ("ENVIRONMENT", "DATABASE_URL", "WEB_APP_ORIGINS"):
            monkeypatch.delenv(name, raising=False)


def make_context(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> StorageContext:
    """A service context on the embedded store in ``tmp_path/data`` (or as ``env`` says).

    Safe in module-scoped fixtures too (pass a ``MonkeyPatch.context()``): it clears the
    settings' environment and moves into ``tmp_path`` first, so no ``.env`` is read.
    """
    clean_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STORAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AUTH_JWT_SECRET", "hardening-" + "x" * 40)
    monkeypatch.setenv("STORAGE_SERVICE_URL", "http://testserver")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return build_context(load_settings(), migrate=True)


def make_app(context: StorageContext, *, fast: bool = True) -> FastAPI:
    """The real app; ``fast=False`` sends ``/files``, derivatives and presigns through the
    documented FastAPI routes."""
    app = create_app(context=context)
    if not fast:
        app.fast = None  # type: ignore[attr-defined]
        app.fast_derived = None  # type: ignore[attr-defined]
        app.fast_presign = None  # type: ignore[attr-defined]
    return app


def bearer(context: StorageContext) -> tuple[str, str]:
    return ("authorization", f"Bearer {issue_token(context.jwt_secret, 'hardening')}")
