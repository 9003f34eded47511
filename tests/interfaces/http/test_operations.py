"""The console's JSON routes: ``/api/v1/operations`` and the read-only ``/api/v1/datasets``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sartiq_storage.adapters.db.models import utcnow
from sartiq_storage.core.config import load_settings
from sartiq_storage.core.lifecycle import policy_for
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services import lifecycle, maintenance
from sartiq_storage.services.context import StorageContext, build_context
from sartiq_storage.services.media.deletions import MAX_AUTOMATIC_ATTEMPTS
from sartiq_storage.services.orphans import OrphanScanner
from sartiq_storage.testing.media import image_bytes
from sartiq_storage.testing.moto_server import moto_settings
from tests.support.dead_letters import add_dead_letter, dead_letter
from tests.support.faulty_store import FaultyStore
from tests.support.http_media import browser_upload, ingest

PROTECTED = [
    ("GET", "/api/v1/operations/dead-letters"),
    ("POST", "/api/v1/operations/dead-letters/retry"),
    ("GET", "/api/v1/operations/orphans"),
    ("GET", "/api/v1/operations/lifecycle"),
    ("GET", "/api/v1/datasets/repositories"),
    ("GET", "/api/v1/datasets/repositories/garments/refs"),
    ("GET", "/api/v1/datasets/repositories/garments/log?ref=main"),
    ("GET", "/api/v1/datasets/repositories/garments/diff?left=main&right=main"),
    ("GET", "/api/v1/datasets/repositories/garments/objects?ref=main"),
]


@pytest.fixture
def context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StorageContext]:
    monkeypatch.setenv("STORAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STORAGE_SERVICE_URL", "http://testserver")
    context = build_context(load_settings(), migrate=True)
    yield context
    context.close()


@pytest.fixture
def client(context: StorageContext) -> Iterator[TestClient]:
    with TestClient(create_app(context=context)) as client:
        client.headers["Authorization"] = f"Bearer {issue_token(context.jwt_secret, 'ops')}"
        yield client


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_route_needs_a_token(context: StorageContext, method: str, path: str) -> None:
    with TestClient(create_app(context=context)) as anonymous:
        response = anonymous.request(method, path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_dead_letters_list_and_retry_drains_them(
    client: TestClient, context: StorageContext
) -> None:
    assert client.get("/api/v1/operations/dead-letters").json() == {"items": [], "total": 0}
    fresh = dead_letter(context)
    exhausted = dead_letter(context, attempts=MAX_AUTOMATIC_ATTEMPTS)
    listed = client.get("/api/v1/operations/dead-letters")
    assert listed.status_code == 200
    body = listed.json()
    assert body["total"] == 2
    by_key = {item["storage_key"]: item for item in body["items"]}
    assert by_key[fresh]["exhausted"] is False
    assert by_key[exhausted]["exhausted"] is True
    assert by_key[exhausted]["attempts"] == MAX_AUTOMATIC_ATTEMPTS
    assert set(by_key[fresh]) == {
        "storage_key",
        "attempts",
        "exhausted",
        "error_message",
        "created_at",
        "last_attempted_at",
        "next_attempt_at",
    }
    assert client.get("/api/v1/operations/dead-letters?limit=1").json()["total"] == 2

    # One named letter, though it is not due for hours: retried now.
    one = client.post("/api/v1/operations/dead-letters/retry", json={"storage_keys": [fresh]})
    assert one.status_code == 200
    assert one.json() == {"deleted": [fresh], "kept_referenced": [], "failed": {}}
    assert not context.store.exists(fresh)
    # All the rest, exhausted ones included; no body is "all".
    rest = client.post("/api/v1/operations/dead-letters/retry")
    assert rest.json()["deleted"] == [exhausted]
    assert not context.store.exists(exhausted)
    assert client.get("/api/v1/operations/dead-letters").json()["total"] == 0
    health = client.get("/api/v1/storage/health").json()
    assert health["dead_letters"]["count"] == 0


def test_a_retry_that_still_fails_keeps_the_letter(
    client: TestClient, context: StorageContext
) -> None:
    key = dead_letter(context)
    faulty = FaultyStore(context.store)
    faulty.fail_delete = lambda k: k == key
    context.media.deletions.store = faulty  # type: ignore[assignment]
    report = client.post("/api/v1/operations/dead-letters/retry", json={"storage_keys": [key]})
    assert report.status_code == 200
    assert report.json()["failed"] == {key: "InternalError: injected"}
    [letter] = client.get("/api/v1/operations/dead-letters").json()["items"]
    assert letter["attempts"] == 2
    assert context.store.exists(key)
    # "Retry all" picks every letter whatever its schedule, but leases from the real clock.
    report = client.post("/api/v1/operations/dead-letters/retry")
    assert report.json()["failed"] == {key: "InternalError: injected"}
    [letter] = client.get("/api/v1/operations/dead-letters").json()["items"]
    assert datetime.fromisoformat(letter["next_attempt_at"]) < utcnow() + timedelta(days=1)


def test_an_empty_list_of_letters_is_refused(client: TestClient, context: StorageContext) -> None:
    dead_letter(context)
    response = client.post("/api/v1/operations/dead-letters/retry", json={"storage_keys": []})
    assert response.status_code == 422
    assert len(client.get("/api/v1/operations/dead-letters").json()["items"]) == 1


def test_a_letter_for_a_key_in_use_is_kept_and_forgotten(
    client: TestClient, context: StorageContext
) -> None:
    url = browser_upload(client, context, image_bytes("png", 20, 20))
    resource = ingest(client, url, uuid.uuid4()).json()["media_resource"]
    key = f"media/{resource['id']}/file.png"
    add_dead_letter(context.db, key, error="x", due_in=timedelta(0))
    report = client.post("/api/v1/operations/dead-letters/retry").json()
    assert report["kept_referenced"] == [key]
    assert context.store.exists(key)
    assert client.get("/api/v1/operations/dead-letters").json()["total"] == 0


def test_orphan_report_is_the_last_scan(client: TestClient, context: StorageContext) -> None:
    assert client.get("/api/v1/operations/orphans").json() == {"report": None}
    dead_letter(context, stored=True)  # an object under media/ with no row: an orphan
    started = utcnow()
    report = OrphanScanner(context.db, context.store, context.media).scan(grace=timedelta(0))
    maintenance.record(context.db, "orphans", report.as_dict(), applied=False, started_at=started)
    answer = client.get("/api/v1/operations/orphans")
    assert answer.status_code == 200
    last = answer.json()["report"]
    assert last["orphan_objects"] == 1
    assert last["applied"] is False
    assert last["_applied"] is False
    assert last["_finished_at"]


def test_lifecycle_on_the_embedded_store(client: TestClient) -> None:
    plan = client.get("/api/v1/operations/lifecycle")
    assert plan.status_code == 200
    body = plan.json()
    assert body["lifecycle_engine"] is False
    assert body["in_sync"] is True
    assert body["drift"] == []
    assert "sweep" in body["note"]
    assert {rule["prefix"] for rule in body["policy"]["rules"]} >= {"temp/", "media/"}


def test_lifecycle_drift_on_a_bucket(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AUTH_JWT_SECRET", "operations-api-secret-0123456789abcdef")
    for name, value in moto_settings(s3_endpoint, s3_bucket).items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    context = build_context(settings, migrate=True)
    try:
        with TestClient(create_app(context=context)) as client:
            client.headers["Authorization"] = f"Bearer {issue_token(context.jwt_secret, 'ops')}"
            before = client.get("/api/v1/operations/lifecycle").json()
            assert before["lifecycle_engine"] is True
            assert before["in_sync"] is False
            assert any(line.startswith("cors: missing") for line in before["drift"])
            assert any(line.startswith("lifecycle: missing") for line in before["drift"])
            lifecycle.apply(context.store, policy_for(settings), settings.WEB_APP_ORIGINS)
            after = client.get("/api/v1/operations/lifecycle").json()
            assert after["in_sync"] is True
            assert after["drift"] == []
            assert after["cors"]["desired"]["origins"] == settings.WEB_APP_ORIGINS
    finally:
        context.close()


def test_datasets_read_only_routes(client: TestClient, context: StorageContext) -> None:
    assert client.get("/api/v1/datasets/repositories").json() == []
    engine = context.datasets
    engine.create_repository("garments", "datasets/garments")
    engine.put_object("garments", "main", "readme.txt", b"hello", content_type="text/plain")
    first = engine.commit("garments", "main", "Add the readme", metadata={"by": "tests"})
    engine.create_branch("garments", "relabel", "main")
    engine.put_object("garments", "relabel", "tops/1.png", b"\x89PNG", content_type="image/png")
    engine.put_object("garments", "relabel", "readme.txt", b"changed", content_type="text/plain")
    engine.commit("garments", "relabel", "Relabel")
    engine.create_tag("garments", "v1", first.id)

    [repo] = client.get("/api/v1/datasets/repositories").json()
    assert repo["name"] == "garments"
    assert repo["default_branch"] == "main"
    refs = client.get("/api/v1/datasets/repositories/garments/refs").json()
    assert {b["name"] for b in refs["branches"]} == {"main", "relabel"}
    assert refs["tags"] == [{"name": "v1", "commit_id": first.id}]

    log = client.get("/api/v1/datasets/repositories/garments/log", params={"ref": "v1"}).json()
    assert [c["message"] for c in log] == ["Add the readme", "Repository created"]
    assert log[0]["metadata"] == {"by": "tests"}
    assert log[0]["id"] == first.id

    diff = client.get(
        "/api/v1/datasets/repositories/garments/diff", params={"left": "main", "right": "relabel"}
    ).json()
    assert [(d["type"], d["path"]) for d in diff] == [
        ("changed", "readme.txt"),
        ("added", "tops/1.png"),
    ]

    top = client.get(
        "/api/v1/datasets/repositories/garments/objects", params={"ref": "relabel"}
    ).json()
    assert [(i["path"], i["path_type"]) for i in top["items"]] == [
        ("readme.txt", "object"),
        ("tops/", "common_prefix"),
    ]
    assert top["items"][0]["size"] == len(b"changed")
    assert top["has_more"] is False
    inside = client.get(
        "/api/v1/datasets/repositories/garments/objects",
        params={"ref": "relabel", "prefix": "tops/"},
    ).json()
    assert [i["content_type"] for i in inside["items"]] == ["image/png"]


def test_datasets_errors_keep_their_status(client: TestClient, context: StorageContext) -> None:
    missing = client.get("/api/v1/datasets/repositories/nope/refs")
    assert missing.status_code == 404
    assert "nope" in missing.json()["detail"]
    context.datasets.create_repository("garments", "datasets/garments")
    log = "/api/v1/datasets/repositories/garments/log"
    assert client.get(log, params={"ref": "no-such-branch"}).status_code == 404
    unparsable = client.get(log, params={"ref": "main~x"})
    assert unparsable.status_code == 400
    assert "main~x" in unparsable.json()["detail"]
    assert client.get(log).status_code == 422  # a ref is required
