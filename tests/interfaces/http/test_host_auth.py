"""``create_app(auth=...)``: a host's own dependency in place of our bearer tokens, on every
route that had one, each route keeping its scope (SQLite, a real socket; the PostgreSQL
end-to-end run is ``test_host_app.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI, Header, HTTPException

from sartiq_storage.api import create_app, issue_token
from sartiq_storage.config import StorageContext, build_context, load_settings
from sartiq_storage.interfaces.http.auth import BearerGuard
from sartiq_storage.interfaces.http.gate import flat_routes, guards_of
from sartiq_storage.testing.moto_server import free_port
from tests.support.live_server import live_server

PRESIGN = "/storage/api/v1/uploads/presigned-url"
BODY = {"filename": "a.png", "content_type": "image/png", "size": 10}


async def host_caller(x_user: str | None = Header(None)) -> SimpleNamespace | None:
    """Any object with ``subject`` and ``scopes`` will do; None means "not logged in"."""
    if x_user == "blocked":
        raise HTTPException(401, "the host's own refusal")
    if x_user is None:
        return None
    return SimpleNamespace(subject=x_user, scopes=["uploads", "host:admin"])


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def context(tmp_path: Path, port: int) -> Iterator[StorageContext]:
    settings = load_settings(
        STORAGE_DATA_DIR=tmp_path, STORAGE_SERVICE_URL=f"http://127.0.0.1:{port}/storage"
    )
    context = build_context(settings, migrate=True)
    yield context
    context.close()


def _host(context: StorageContext) -> FastAPI:
    host = FastAPI()

    @host.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    host.mount("/storage", create_app(context=context, auth=host_caller))
    return host


def test_every_bearer_guard_is_replaced(context: StorageContext) -> None:
    storage = create_app(context=context, auth=host_caller)
    guards = {
        g
        for route in flat_routes(storage.router.routes)
        for g in guards_of(route)
        if isinstance(g, BearerGuard)
    }
    assert guards
    assert guards == set(storage.dependency_overrides)
    plain = create_app(context=context)
    assert plain.dependency_overrides == {}
    assert plain.openapi()["paths"] == storage.openapi()["paths"]  # the routes are the same


def test_the_hosts_caller_decides(context: StorageContext, port: int) -> None:
    with live_server(_host(context), port) as base, httpx.Client(base_url=base) as client:
        assert client.post(PRESIGN, json=BODY).status_code == 401
        refused = client.post(PRESIGN, json=BODY, headers={"X-User": "blocked"})
        assert refused.status_code == 401
        assert refused.json() == {"detail": "the host's own refusal"}
        granted = client.post(PRESIGN, json=BODY, headers={"X-User": "carol"})
        assert granted.status_code == 200, granted.text
        assert granted.json()["upload_url"].startswith(f"{base}/storage/")
        no_scope = client.get("/storage/api/v1/media-resources", headers={"X-User": "carol"})
        assert no_scope.status_code == 403
        assert "media:read" in no_scope.json()["detail"]
        token = issue_token(context.jwt_secret, "mallory")
        ours = {"Authorization": f"Bearer {token}"}
        assert client.post(PRESIGN, json=BODY, headers=ours).status_code == 401
        who = client.get("/storage/api/v1/token", headers={"X-User": "carol"})
        assert who.json() == {"subject": "carol", "scopes": ["uploads"]}
        too_big = client.post(
            PRESIGN, content=b"[" + b" " * (3 * 1024 * 1024) + b"]", headers={"X-User": "carol"}
        )
        assert too_big.status_code == 413  # bodies stay capped under the host's auth


def test_without_auth_our_tokens_still_open_the_mounted_app(
    context: StorageContext, port: int
) -> None:
    host = FastAPI()
    host.mount("/storage", create_app(context=context))

    @host.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    token = issue_token(context.jwt_secret, "dave", scopes=["uploads"])
    with live_server(host, port) as base, httpx.Client(base_url=base) as client:
        assert client.post(PRESIGN, json=BODY, headers={"X-User": "carol"}).status_code == 401
        ours = client.post(PRESIGN, json=BODY, headers={"Authorization": f"Bearer {token}"})
        assert ours.status_code == 200, ours.text
