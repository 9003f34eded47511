"""The embedded upload and download target, over real HTTP semantics (ASGI transport)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sartiq_storage.core.config import load_settings
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services.context import StorageContext, build_context


@pytest.fixture
def context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StorageContext:
    monkeypatch.setenv("STORAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STORAGE_SERVICE_URL", "http://testserver")
    return build_context(load_settings())


@pytest.fixture
def client(context: StorageContext) -> Iterator[TestClient]:
    with TestClient(create_app(context=context)) as client:
        yield client


def _presigned(context: StorageContext, key: str, **kw: object):  # type: ignore[no-untyped-def]
    return context.store.presign_put(key, content_type="image/png", expires_in=60, **kw)  # type: ignore[arg-type]


def test_presigned_put_then_public_get(client: TestClient, context: StorageContext) -> None:
    req = _presigned(context, "temp/a_1_x.png", content_length=5)
    response = client.put(req.url, content=b"\x89PNG!", headers=req.headers)
    assert response.status_code == 200, response.text
    assert response.headers["etag"].strip('"') == context.store.head("temp/a_1_x.png").etag
    public = client.get("/_storage/public/temp/a_1_x.png")
    assert public.content == b"\x89PNG!"
    assert public.headers["content-type"] == "image/png"
    assert public.headers["x-content-type-options"] == "nosniff"
    assert public.headers["cache-control"] == "no-store"
    assert "sandbox" in public.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"Content-Type": "text/html"}, b"12345", 403),
        ({"Content-Type": "image/png"}, b"123456", 403),
        ({"Content-Type": "image/png"}, b"1234", 403),
    ],
)
def test_wrong_type_or_length_refused(
    client: TestClient, context: StorageContext, headers: dict[str, str], body: bytes, status: int
) -> None:
    req = _presigned(context, "temp/b.png", content_length=5)
    assert client.put(req.url, content=body, headers=headers).status_code == status
    assert not context.store.exists("temp/b.png")


def test_second_put_on_same_url_refused(client: TestClient, context: StorageContext) -> None:
    req = _presigned(context, "temp/c.png", content_length=2)
    assert client.put(req.url, content=b"ok", headers=req.headers).status_code == 200
    again = client.put(req.url, content=b"no", headers=req.headers)
    assert again.status_code == 412
    assert "detail" in again.json()
    assert context.store.get_bytes("temp/c.png") == b"ok"


def test_expired_and_forged_urls_refused(client: TestClient, context: StorageContext) -> None:
    assert context.signer is not None
    grant = context.signer.grant(
        "PUT", "temp/d.png", expires_in=5, content_type="image/png", now=time.time() - 60
    )
    expired = client.put(
        context.signer.sign(grant), content=b"x", headers={"Content-Type": "image/png"}
    )
    assert expired.status_code == 403
    assert "expired" in expired.json()["detail"]
    req = _presigned(context, "temp/e.png")
    other_key = req.url.replace("temp/e.png", "temp/f.png")
    assert client.put(other_key, content=b"x", headers=req.headers).status_code == 403
    assert not context.store.exists("temp/d.png")
    assert not context.store.exists("temp/f.png")


def test_unsized_upload_over_limit_refused(
    client: TestClient, context: StorageContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sartiq_storage.interfaces.http.routes import embedded

    monkeypatch.setattr(embedded, "MAX_UPLOAD_BYTES", 1000)
    req = _presigned(context, "temp/big.png")
    response = client.put(req.url, content=b"x" * 1001, headers=req.headers)
    assert response.status_code == 413
    assert not context.store.exists("temp/big.png")
    assert list(context.store.list("")) == []


def test_signed_get_and_ranges(client: TestClient, context: StorageContext) -> None:
    context.store.put(
        "media/x/file.txt",
        b"0123456789",
        content_type="text/plain",
        cache_control="public, max-age=31536000, immutable",
    )
    url = context.store.presign_get("media/x/file.txt", expires_in=60).url
    assert client.get(url).content == b"0123456789"
    ranged = client.get("/_storage/public/media/x/file.txt", headers={"Range": "bytes=2-4"})
    assert ranged.status_code == 206
    assert ranged.content == b"234"
    assert ranged.headers["content-range"] == "bytes 2-4/10"
    assert (
        client.get("/_storage/public/media/x/file.txt", headers={"Range": "bytes=-3"}).content
        == b"789"
    )
    assert (
        client.get("/_storage/public/media/x/file.txt", headers={"Range": "bytes=20-"}).status_code
        == 416
    )
    whole = client.get("/_storage/public/media/x/file.txt")
    assert whole.headers["cache-control"] == "public, max-age=31536000, immutable"
    etag = whole.headers["etag"]
    assert (
        client.get("/_storage/public/media/x/file.txt", headers={"If-None-Match": etag}).status_code
        == 304
    )
    assert client.head("/_storage/public/media/x/file.txt").headers["content-length"] == "10"


def test_bad_paths_and_missing_objects(client: TestClient) -> None:
    assert client.get("/_storage/public/media/none").status_code == 404
    bad = client.get("/_storage/public/media/%2e%2e/x")
    assert bad.status_code in (400, 404)
    assert client.get("/_storage/public/a%00b").status_code == 400
    assert client.get("/_storage/public/a%00b").json()["detail"]


def test_cors_exposes_etag(client: TestClient) -> None:
    response = client.options(
        "/_storage/objects/temp/x",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "PUT"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    got = client.get("/healthz", headers={"Origin": "http://localhost:3000"})
    assert "etag" in got.headers["access-control-expose-headers"].lower()


def test_health(client: TestClient, context: StorageContext) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["backend"] == "local"
    token = issue_token(context.jwt_secret, "t")
    assert token


def test_a_signed_cap_bounds_a_put_of_unknown_length(
    client: TestClient, context: StorageContext
) -> None:
    """Dataset objects (lakeFS's pre-signed writes): any type, any length up to the signed cap;
    the cap is part of the signature, so raising it in the URL breaks it."""
    req = context.store.presign_put(
        "datasets/r/data/presigned/1-a,sig", content_type=None, expires_in=60, max_length=8
    )
    assert "max=8" in req.url
    over = client.put(req.url, content=b"123456789", headers={"Content-Type": "text/csv"})
    assert over.status_code == 413
    raised = client.put(req.url.replace("max=8", "max=80"), content=b"123456789")
    assert raised.status_code == 403
    fits = client.put(req.url, content=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"})
    assert fits.status_code == 200, fits.text
    assert context.store.head("datasets/r/data/presigned/1-a,sig").content_type == "text/csv"


def test_part_urls_and_object_urls_do_not_stand_in_for_each_other(
    client: TestClient, context: StorageContext
) -> None:
    key = "temp/1700000000/0123456789abcdef0123456789abcdef_clip.mp4"
    upload_id = context.store.create_multipart(key, content_type="video/mp4")
    part = context.store.presign_upload_part(key, upload_id, 1, expires_in=60)
    assert "/_storage/parts/" in part.url
    stored = client.put(part.url, content=b"part one")
    assert stored.status_code == 200, stored.text
    assert stored.headers["etag"].strip('"') == context.store.list_parts(key, upload_id)[0].etag
    as_object = client.put(part.url.replace("/_storage/parts/", "/_storage/objects/"), content=b"x")
    assert as_object.status_code == 403
    other = part.url.replace("partNumber=1", "partNumber=2")
    assert client.put(other, content=b"x").status_code == 403  # the number is signed
    obj = context.store.presign_put(key, content_type="video/mp4", expires_in=60)
    as_part = client.put(obj.url.replace("/_storage/objects/", "/_storage/parts/"), content=b"x")
    assert as_part.status_code == 403
    context.store.abort_multipart(key, upload_id)
    gone = client.put(part.url, content=b"late")
    assert gone.status_code == 404
    assert "upload" in gone.json()["detail"]
