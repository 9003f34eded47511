"""API: every mutating route refuses a request without credentials.

The routes are enumerated from the app itself (``routes.py``), so a route added later is
covered without touching this file. Bearer routes answer 401 with a JSON ``detail`` and a
``WWW-Authenticate: Bearer`` challenge, for a missing, malformed, expired or foreign token;
the embedded signed PUT authenticates by signature instead and answers **403** without one;
the lakeFS-compatible sub-app (basic auth) answers 401 with lakeFS's ``{"message": …}``;
a mount without routes of its own (the console's static files) must not accept a write.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from starlette.routing import Mount

from sartiq_storage.core.tokens import issue_token
from sartiq_storage.interfaces.http.lakefs import LAKEFS_API_PREFIX
from sartiq_storage.services.context import StorageContext
from tests.support.asgi import Reply, make_app, make_context, request, to_wire
from tests.support.routes import MUTATING, RouteInfo, fill, iter_routes, mutating

# Mutating routes that authenticate by something other than a bearer token, and what they
# answer without it. Anything else that mutates must answer 401.
NOT_BEARER = {
    ("PUT", "/_storage/objects/{key:key}"): 403,
    ("PUT", "/_storage/parts/{key:key}"): 403,  # a multipart part: signed like an object
}


@pytest.fixture
def context(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> StorageContext:
    return make_context(monkeypatch, tmp_path)


def _bad_credentials(context: StorageContext) -> dict[str, list[tuple[str, str]]]:
    good = issue_token(context.jwt_secret, "someone")
    expired = issue_token(context.jwt_secret, "someone", ttl_seconds=-60)
    foreign = jwt.encode({"sub": "someone", "exp": 4_000_000_000}, "another-secret" * 3, "HS256")
    none_alg = jwt.encode({"sub": "someone"}, None, algorithm="none")
    return {
        "missing": [],
        "empty": [("authorization", "")],
        "bearer-only": [("authorization", "Bearer")],
        "garbage": [("authorization", "Bearer not-a-token")],
        "expired": [("authorization", f"Bearer {expired}")],
        "foreign-secret": [("authorization", f"Bearer {foreign}")],
        "alg-none": [("authorization", f"Bearer {none_alg}")],
        "basic-scheme": [("authorization", f"Basic {good}")],
        "query-token": [],  # a token in the query string is not a credential
    }


async def _send(app: Any, method: str, path: str, headers: list[tuple[str, str]]) -> Reply:
    body = json.dumps({}).encode()
    return await request(
        app,
        method,
        to_wire(path),
        headers=[*headers, ("content-type", "application/json")],
        body=body,
    )


def _refusals(app: FastAPI, context: StorageContext) -> list[str]:
    """What is wrong, per mutating route and credential; empty when every one is refused."""
    problems: list[str] = []
    variants = _bad_credentials(context)
    good = issue_token(context.jwt_secret, "someone")

    async def run() -> None:
        for method, template in mutating(app.routes):
            path = fill(template)
            expected = NOT_BEARER.get((method, template), 401)
            for name, headers in variants.items():
                target = path + (
                    f"?token={good}&access_token={good}" if name == "query-token" else ""
                )
                reply = await _send(app, method, target, headers)
                where = f"{method} {template} [{name}] -> {reply.status} {reply.body[:120]!r}"
                if reply.status != expected:
                    problems.append(where)
                    continue
                detail = reply.json().get("detail")
                if not (isinstance(detail, str) and detail):
                    problems.append(where + " (no JSON detail)")
                if expected == 401 and reply.header("www-authenticate") != "Bearer":
                    problems.append(where + " (no Bearer challenge)")

    asyncio.run(run())
    return problems


def test_every_mutating_route_refuses_without_a_token(context: StorageContext) -> None:
    app = make_app(context)
    routes = mutating(app.routes)
    # The enumeration must see the routes it claims to cover (ingest, tags, compute…).
    assert len(routes) >= 15, routes
    assert ("POST", "/api/v1/media-resources/ingest") in routes
    assert ("DELETE", "/api/v1/storage/images/{path:key}") in routes
    assert set(NOT_BEARER) <= set(routes)
    try:
        assert _refusals(app, context) == []
        # Nothing reached the store or the database on the way.
        assert list(context.store.list("")) == []
        assert context.tags.list_for("someone", None) == []
    finally:
        context.close()


def test_the_check_catches_an_unprotected_route(context: StorageContext) -> None:
    app = make_app(context)

    @app.post("/api/v1/hardening-unprotected")
    async def unprotected() -> dict[str, str]:
        return {"ok": "yes"}

    try:
        problems = _refusals(app, context)
    finally:
        context.close()
    assert problems
    assert all("/api/v1/hardening-unprotected" in p for p in problems)


def test_signed_put_without_a_signature_is_403(context: StorageContext) -> None:
    app = make_app(context)

    async def run() -> list[Reply]:
        return [
            await request(app, "PUT", b"/_storage/objects/temp/a_1_x.png", body=b"x"),
            await request(
                app, "PUT", b"/_storage/objects/temp/a_1_x.png?expires=1&sig=", body=b"x"
            ),
            await request(
                app,
                "PUT",
                b"/_storage/objects/temp/a_1_x.png?expires=9999999999&sig=" + b"0" * 64,
                headers=[("authorization", f"Bearer {issue_token(context.jwt_secret, 'x')}")],
                body=b"x",
            ),
        ]

    try:
        replies = asyncio.run(run())
        assert [r.status for r in replies] == [403, 403, 403]
        assert all(r.json()["detail"] for r in replies)
        assert not context.store.exists("temp/a_1_x.png")  # a bearer token is not a signature
    finally:
        context.close()


def _lakefs(app: FastAPI) -> Mount:
    mounts = [m for m in iter_routes(app.routes) if isinstance(m, Mount)]
    return next(m for m in mounts if m.path == LAKEFS_API_PREFIX)


def test_lakefs_sub_app_refuses_mutations_without_basic_auth(context: StorageContext) -> None:
    app = make_app(context)
    sub = _lakefs(app)
    routes = mutating(sub.routes)
    assert len(routes) >= 15, routes
    key_id = context.datasets_access_key_id or ""
    wrong = base64.b64encode(f"{key_id}:wrong-secret".encode()).decode()
    variants: dict[str, list[tuple[str, str]]] = {
        "missing": [],
        "wrong-secret": [("authorization", f"Basic {wrong}")],
        "bearer": [("authorization", f"Bearer {issue_token(context.jwt_secret, 'x')}")],
    }
    problems = []

    async def run() -> None:
        for method, template in routes:
            for name, headers in variants.items():
                path = LAKEFS_API_PREFIX + fill(template)
                reply = await _send(app, method, path, headers)
                if reply.status != 401 or not reply.json().get("message"):
                    problems.append(f"{method} {template} [{name}] -> {reply.status}")

    try:
        asyncio.run(run())
    finally:
        context.close()
    assert problems == []


def test_mounts_without_routes_accept_no_writes(context: StorageContext) -> None:
    """Any other mount (the console's static files): a write is never a success."""
    app = make_app(context)
    others = [
        m for m in iter_routes(app.routes) if isinstance(m, Mount) and m.path != LAKEFS_API_PREFIX
    ]
    problems = []

    async def run() -> None:
        for mount in others:
            inner = getattr(mount.app, "routes", None)
            if inner:
                for info in iter_routes(inner):
                    if isinstance(info, RouteInfo) and info.methods & MUTATING:
                        problems.append(f"{mount.path}{info.path}: cover it in this file")
                continue
            for method in sorted(MUTATING):
                reply = await _send(app, method, mount.path + "/index.html", [])
                if reply.status < 400 or reply.status >= 500:
                    problems.append(f"{method} {mount.path}/index.html -> {reply.status}")

    try:
        asyncio.run(run())
    finally:
        context.close()
    assert problems == []
