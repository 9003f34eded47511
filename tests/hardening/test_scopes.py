"""Scoped tokens: every operation of the OpenAPI document needs its scope.

The table below is the specification (README, docs/operations.md). The test walks the
service's own OpenAPI document, so an operation added later without an entry here fails.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import jwt
import pytest

from sartiq_storage.core.tokens import ALL_SCOPES, issue_token
from sartiq_storage.services.context import StorageContext
from tests.support.asgi import Reply, make_app, make_context, request, to_wire
from tests.support.routes import fill

ANY = "any valid token"
PUBLIC = "public"
MEDIA = "/api/v1/media-resources"
MULTIPART = "/api/v1/uploads/s3/multipart"
SCOPE_OF: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/api/v1/storage/health"): PUBLIC,
    ("GET", "/files/{file_path}"): PUBLIC,
    ("GET", "/api/v1/token"): ANY,
    ("POST", "/api/v1/uploads/presigned-url"): "uploads",
    ("POST", MULTIPART): "uploads",
    ("GET", f"{MULTIPART}/{{upload_id}}"): "uploads",
    ("GET", f"{MULTIPART}/{{upload_id}}/batch"): "uploads",
    ("GET", f"{MULTIPART}/{{upload_id}}/{{part_number}}"): "uploads",
    ("POST", f"{MULTIPART}/{{upload_id}}/complete"): "uploads",
    ("DELETE", f"{MULTIPART}/{{upload_id}}"): "uploads",
    ("POST", f"{MEDIA}/ingest"): "media:write",
    ("POST", f"{MEDIA}/ingest-storage-key"): "media:write",
    ("POST", f"{MEDIA}/ingest-batch"): "media:write",
    ("POST", f"{MEDIA}/heal"): "ops",
    ("GET", MEDIA): "media:read",
    ("GET", f"{MEDIA}/{{media_resource_id}}"): "media:read",
    ("PATCH", f"{MEDIA}/{{media_resource_id}}"): "media:write",
    ("DELETE", f"{MEDIA}/attachments/{{attachment_id}}"): "media:write",
    ("GET", f"{MEDIA}/{{media_resource_id}}/tags/"): "media:read",
    ("POST", f"{MEDIA}/{{media_resource_id}}/tags/"): "media:write",
    ("PUT", f"{MEDIA}/{{media_resource_id}}/tags/"): "media:write",
    ("DELETE", f"{MEDIA}/{{media_resource_id}}/tags/"): "media:write",
    ("POST", "/api/v1/tags/"): "media:write",
    ("GET", "/api/v1/tags/"): "media:read",
    ("GET", "/api/v1/tags/{tag_id}"): "media:read",
    ("PUT", "/api/v1/tags/{tag_id}"): "media:write",
    ("DELETE", "/api/v1/tags/{tag_id}"): "media:write",
    ("GET", "/api/v1/operations/dead-letters"): "ops",
    ("POST", "/api/v1/operations/dead-letters/retry"): "ops",
    ("GET", "/api/v1/operations/orphans"): "ops",
    ("GET", "/api/v1/operations/lifecycle"): "ops",
    ("GET", "/api/v1/datasets/repositories"): "datasets:read",
    ("GET", "/api/v1/datasets/repositories/{repo}/refs"): "datasets:read",
    ("GET", "/api/v1/datasets/repositories/{repo}/log"): "datasets:read",
    ("GET", "/api/v1/datasets/repositories/{repo}/diff"): "datasets:read",
    ("GET", "/api/v1/datasets/repositories/{repo}/objects"): "datasets:read",
    ("GET", "/api/v1/datasets/repositories/{repo}/branches/{branch}/changes"): "datasets:read",
    ("GET", "/api/v1/datasets/repositories/{repo}/branch-protection"): "datasets:read",
    ("PUT", "/api/v1/datasets/repositories/{repo}/branch-protection"): "datasets:write",
    ("POST", "/api/v1/datasets/repositories/{repo}/branches"): "datasets:write",
    ("DELETE", "/api/v1/datasets/repositories/{repo}/branches/{branch}"): "datasets:write",
    ("PUT", "/api/v1/datasets/repositories/{repo}/branches/{branch}/objects"): "datasets:write",
    (
        "POST",
        "/api/v1/datasets/repositories/{repo}/branches/{branch}/objects/presign",
    ): "datasets:write",
    ("POST", "/api/v1/datasets/repositories/{repo}/branches/{branch}/objects/link"): (
        "datasets:write"
    ),
    ("POST", "/api/v1/datasets/repositories/{repo}/branches/{branch}/commits"): "datasets:write",
    ("POST", "/api/v1/datasets/repositories/{repo}/branches/{branch}/merge"): "datasets:write",
    ("POST", "/api/v1/datasets/repositories/{repo}/branches/{branch}/revert"): "datasets:write",
    ("POST", "/api/v1/datasets/repositories/{repo}/tags"): "datasets:write",
    # The compute server's reads: public until they need a token, then "compute".
    ("GET", "/api/v1/storage/images"): "compute",
    ("GET", "/api/v1/storage/images/{path}"): "compute",
    ("HEAD", "/api/v1/storage/images/{path}"): "compute",
    ("POST", "/api/v1/storage/images/{path}"): "compute",
    ("DELETE", "/api/v1/storage/images/{path}"): "compute",
}
COMPUTE_READS = {
    ("GET", "/api/v1/storage/images"),
    ("GET", "/api/v1/storage/images/{path}"),
    ("HEAD", "/api/v1/storage/images/{path}"),
}


@pytest.fixture
def context(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> StorageContext:
    return make_context(monkeypatch, tmp_path)


def _operations(context: StorageContext) -> dict[tuple[str, str], list[dict[str, list[str]]]]:
    """(method, path) → the security requirement the OpenAPI document gives it."""
    schema = make_app(context).openapi()
    return {
        (method.upper(), path): operation.get("security", [])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }


async def _call(app: Any, method: str, path: str, token: str) -> Reply:
    body = json.dumps({}).encode() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
    headers = [("authorization", f"Bearer {token}"), ("content-type", "application/json")]
    return await request(app, method, to_wire(fill(path)), headers=headers, body=body)


def test_every_operation_needs_its_scope(context: StorageContext) -> None:
    operations = _operations(context)
    assert set(operations) == set(SCOPE_OF), "an operation without a scope in this table"
    app = make_app(context)
    problems: list[str] = []

    async def run() -> None:
        for (method, path), secured in sorted(operations.items()):
            scope = SCOPE_OF[(method, path)]
            if not secured:
                # Public; the compute reads may be either until they take a token.
                if scope != PUBLIC and (method, path) not in COMPUTE_READS:
                    problems.append(f"{method} {path}: needs no token, should need {scope}")
                continue
            if scope == PUBLIC:
                problems.append(f"{method} {path}: needs a token, should be public")
                continue
            documented = [{"HTTPBearer": [] if scope == ANY else [scope]}]
            if secured != documented:
                problems.append(f"{method} {path}: documented as {secured}, not {documented}")
            if scope == ANY:
                lacking = issue_token(context.jwt_secret, "walker", scopes=[])
                reply = await _call(app, method, path, lacking)
                if reply.status in (401, 403):
                    problems.append(f"{method} {path}: {reply.status} for a token without scopes")
                continue
            others = issue_token(context.jwt_secret, "walker", scopes=ALL_SCOPES - {scope})
            reply = await _call(app, method, path, others)
            detail = reply.json().get("detail", "") if reply.body else ""
            if reply.status != 403 or scope not in detail:
                problems.append(f"{method} {path}: {reply.status} {detail!r} without {scope}")
            for name, token in (
                ("only " + scope, issue_token(context.jwt_secret, "walker", scopes=[scope])),
                ("no scope claim", issue_token(context.jwt_secret, "walker")),
            ):
                reply = await _call(app, method, path, token)
                if reply.status in (401, 403):
                    problems.append(f"{method} {path}: {reply.status} with {name}")

    try:
        asyncio.run(run())
    finally:
        context.close()
    assert problems == []


def test_a_token_says_what_it_may_do(context: StorageContext) -> None:
    app = make_app(context)
    scoped = issue_token(context.jwt_secret, "compute-1", scopes=["compute"])
    legacy = issue_token(context.jwt_secret, "backend")

    async def run() -> list[Reply]:
        return [await _call(app, "GET", "/api/v1/token", t) for t in (scoped, legacy)]

    try:
        scoped_reply, legacy_reply = asyncio.run(run())
    finally:
        context.close()
    assert scoped_reply.json() == {"subject": "compute-1", "scopes": ["compute"]}
    assert set(legacy_reply.json()["scopes"]) == ALL_SCOPES


@pytest.mark.parametrize(
    "claim", [{"scope": 7}, {"scope": ["media:read", 3]}, {"scope": None}], ids=str
)
def test_a_malformed_scope_claim_is_an_invalid_token(
    context: StorageContext, claim: dict[str, Any]
) -> None:
    token = jwt.encode({"sub": "x", "exp": 4_000_000_000, **claim}, context.jwt_secret, "HS256")
    app = make_app(context)
    try:
        reply = asyncio.run(_call(app, "GET", "/api/v1/token", token))
    finally:
        context.close()
    assert (reply.status, reply.json()) == (401, {"detail": "invalid token"})


def test_an_invalid_token_says_so_and_logs_the_cause(
    context: StorageContext, caplog: pytest.LogCaptureFixture
) -> None:
    """Not the JWT library's words ("Invalid header string: 'utf-8' codec…") in the answer."""
    app = make_app(context)
    caplog.set_level(logging.INFO, logger="sartiq_storage.interfaces.http.auth")
    try:
        reply = asyncio.run(_call(app, "GET", "/api/v1/token", "_w.e30.sig"))
    finally:
        context.close()
    assert (reply.status, reply.json()) == (401, {"detail": "invalid token"})
    assert "utf-8" in caplog.text


LAKEFS_STAGING = "/lakefs/api/v1/repositories/r/branches/main/staging"
LAKEFS_PRESIGNED_ROUTES = [
    ("GET", f"{LAKEFS_STAGING}/backing?path=a&presign=true"),
    ("PUT", f"{LAKEFS_STAGING}/backing?path=a"),
    ("POST", f"{LAKEFS_STAGING}/pmpu?path=a&parts=2"),
    ("PUT", f"{LAKEFS_STAGING}/pmpu/u1?path=a"),
    ("DELETE", f"{LAKEFS_STAGING}/pmpu/u1?path=a"),
    ("GET", "/lakefs/api/v1/repositories/r/refs/main/objects?path=a&presign=true"),
    ("GET", "/lakefs/api/v1/repositories/r/branches/main/objects/stage_allowed?path=a"),
]


def test_the_lakefs_pre_signed_routes_take_the_key_pair_not_a_bearer_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """They hand out URLs that write into and read from the store: a bearer token, even one
    with every scope, is not the lakeFS API's credential (401 with lakeFS's Basic challenge)."""
    context = make_context(
        monkeypatch,
        tmp_path,
        DATASETS_ACCESS_KEY_ID="AKIASCOPES",
        DATASETS_SECRET_ACCESS_KEY="scopes-datasets-secret",
    )
    app = make_app(context)
    every = issue_token(context.jwt_secret, "walker", scopes=ALL_SCOPES)

    async def run() -> list[tuple[str, str, Reply]]:
        return [(m, p, await _call(app, m, p, every)) for m, p in LAKEFS_PRESIGNED_ROUTES]

    try:
        replies = asyncio.run(run())
    finally:
        context.close()
    for method, path, reply in replies:
        assert reply.status == 401, (method, path, reply.status)
        assert (reply.header("www-authenticate") or "").startswith("Basic"), (method, path)
