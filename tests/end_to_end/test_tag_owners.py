"""Tags belong to the caller (the token's ``sub``), against a running ``sartiq-storage serve``:
another caller's tag is absent from one's list, and reading, renaming or deleting it by id is a
404 that changes nothing (it was read, renamed and deleted); a rename to a name the owner
already has is a 409, as creating it is."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from sartiq_storage.core.tokens import issue_token
from sartiq_storage.testing.media import image_bytes, ingest_body
from sartiq_storage.testing.moto_server import free_port
from tests.support.cli import sartiq
from tests.support.serve_process import get_once_up, serve_process

SECRET = "tag-owner-secret-" + "t" * 40


def _as(sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, sub)}"}


def test_another_callers_tag_cannot_be_read_renamed_or_deleted(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    alice, bob = _as("alice"), _as("bob")
    with serve_process(tmp_path, port, env={"AUTH_JWT_SECRET": SECRET}):
        assert get_once_up(f"{base}/healthz").status_code == 200
        with httpx.Client(base_url=base, timeout=30) as client:
            made = client.post("/api/v1/tags/", json={"name": "summer"}, headers=alice)
            assert made.status_code == 201, made.text
            tag = made.json()
            url = f"/api/v1/tags/{tag['id']}"

            assert client.get("/api/v1/tags/", headers=bob).json() == []
            for method, options in (
                ("GET", {}),
                ("PUT", {"json": {"name": "mine now"}}),
                ("DELETE", {}),
            ):
                refused = client.request(method, url, headers=bob, **options)
                assert refused.status_code == 404, (method, refused.text)
                assert refused.json()["detail"] == f"tag {tag['id']} not found"

            kept = client.get(url, headers=alice)
            assert kept.status_code == 200, kept.text
            assert kept.json()["name"] == "summer"
            renamed = client.put(url, json={"name": "winter"}, headers=alice)
            assert renamed.status_code == 200, renamed.text

            # A rename to a name the owner already has is a conflict, as creating it is
            # (it made a second "winter": no organisation is NULL, distinct to the constraint).
            other = client.post("/api/v1/tags/", json={"name": "autumn"}, headers=alice)
            assert other.status_code == 201, other.text
            clash = client.put(
                f"/api/v1/tags/{other.json()['id']}", json={"name": "winter"}, headers=alice
            )
            assert clash.status_code == 409, clash.text
            assert "already exists" in clash.json()["detail"]
            names = [t["name"] for t in client.get("/api/v1/tags/", headers=alice).json()]
            assert names == ["autumn", "winter"]
            assert client.delete(url, headers=alice).status_code == 204


def test_another_callers_tag_cannot_be_put_on_a_resource(tmp_path: Path) -> None:
    """Assigning or setting a resource's tags names the caller's own tags only: another
    owner's tag id is a 404 and the resource keeps the tags it had."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    alice, bob = _as("alice"), _as("bob")
    env = {"AUTH_JWT_SECRET": SECRET, "STORAGE_SERVICE_URL": base}
    (tmp_path / "look.png").write_bytes(image_bytes("png", width=8, height=8))
    key = f"temp/{uuid.uuid4().hex}_1796500000_look.png"
    assert sartiq("put", "look.png", key, cwd=tmp_path, env=env).returncode == 0
    with serve_process(tmp_path, port, env=env):
        assert get_once_up(f"{base}/healthz").status_code == 200
        with httpx.Client(base_url=base, timeout=60) as client:
            ingested = client.post(
                "/api/v1/media-resources/ingest",
                headers=bob,
                json=ingest_body(f"{base}/_storage/public/{key}", uuid.uuid4(), "cover"),
            )
            assert ingested.status_code == 201, ingested.text
            tags = f"/api/v1/media-resources/{ingested.json()['media_resource']['id']}/tags/"
            theirs = client.post("/api/v1/tags/", json={"name": "alice's"}, headers=alice)
            mine = client.post("/api/v1/tags/", json={"name": "bob's"}, headers=bob)
            assert client.post(tags, json={"tag_ids": [mine.json()["id"]]}, headers=bob).is_success
            for method in ("POST", "PUT"):
                body = {"tag_ids": [theirs.json()["id"]]}
                refused = client.request(method, tags, json=body, headers=bob)
                assert refused.status_code == 404, (method, refused.text)
                assert refused.json()["detail"] == f"tag {theirs.json()['id']} not found"
            kept = client.get(tags, headers=bob).json()["tags"]
            assert [t["name"] for t in kept] == ["bob's"]
