"""``/api/v1/datasets`` writes (the console's): branches, uploads, changes, commits, merges with
their conflicts, reverts, tags and branch protection, with the bearer token's scopes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sartiq_storage.core.config import load_settings
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services.context import StorageContext, build_context

REPO = "/api/v1/datasets/repositories/garments"


@pytest.fixture
def context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StorageContext]:
    monkeypatch.setenv("STORAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STORAGE_SERVICE_URL", "http://testserver")
    context = build_context(load_settings(), migrate=True)
    context.datasets.create_repository("garments", "datasets/garments")
    yield context
    context.close()


@pytest.fixture
def client(context: StorageContext) -> Iterator[TestClient]:
    with TestClient(create_app(context=context)) as client:
        client.headers["Authorization"] = f"Bearer {issue_token(context.jwt_secret, 'ana')}"
        yield client


def _upload(client: TestClient, branch: str, path: str, data: bytes) -> None:
    response = client.put(
        f"{REPO}/branches/{branch}/objects",
        params={"path": path},
        content=data,
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == "text/csv"


def test_branch_upload_changes_commit_tag(client: TestClient, context: StorageContext) -> None:
    created = client.post(f"{REPO}/branches", json={"name": "dev", "source": "main"})
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "dev"
    _upload(client, "dev", "tables/labels.csv", b"id,label\n1,top\n")

    changes = client.get(f"{REPO}/branches/dev/changes").json()
    assert [(c["type"], c["path"]) for c in changes] == [("added", "tables/labels.csv")]

    made = client.post(
        f"{REPO}/branches/dev/commits",
        json={"message": "Labels", "metadata": {"source": "annotators", "batch": "7"}},
    )
    assert made.status_code == 201, made.text
    commit = made.json()
    assert (commit["message"], commit["committer"]) == ("Labels", "ana")
    assert commit["metadata"] == {"source": "annotators", "batch": "7"}
    assert client.get(f"{REPO}/branches/dev/changes").json() == []

    tagged = client.post(f"{REPO}/tags", json={"name": "v1", "ref": "dev"})
    assert tagged.status_code == 201
    assert tagged.json() == {"name": "v1", "commit_id": commit["id"]}
    again = client.post(f"{REPO}/tags", json={"name": "v1", "ref": "dev"})
    assert again.status_code == 409

    assert client.delete(f"{REPO}/branches/dev").status_code == 204
    refs = client.get(f"{REPO}/refs").json()
    assert [b["name"] for b in refs["branches"]] == ["main"]


def test_merge_lists_every_conflict_and_a_strategy_resolves_them(client: TestClient) -> None:
    client.post(f"{REPO}/branches", json={"name": "dev", "source": "main"})
    paths = [f"labels/{i:02}.csv" for i in range(8)]
    for branch, text in (("main", b"main\n"), ("dev", b"dev\n")):
        for path in paths:
            _upload(client, branch, path, text)
        client.post(f"{REPO}/branches/{branch}/commits", json={"message": f"{branch} labels"})

    conflict = client.post(f"{REPO}/branches/main/merge", json={"source": "dev"})
    assert conflict.status_code == 409
    body = conflict.json()
    assert body["conflicts"] == paths  # all eight, though the message names five
    assert "merge conflict on 8 path(s)" in body["detail"]

    merged = client.post(
        f"{REPO}/branches/main/merge",
        json={"source": "dev", "strategy": "source-wins", "message": "Take dev's labels"},
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["message"] == "Take dev's labels"
    assert merged.json()["committer"] == "ana"
    assert client.get(f"{REPO}/diff", params={"left": "main", "right": "dev"}).json() == []


def test_revert_undoes_a_commit(client: TestClient) -> None:
    _upload(client, "main", "a.csv", b"a\n")
    made = client.post(f"{REPO}/branches/main/commits", json={"message": "Add a"}).json()
    reverted = client.post(f"{REPO}/branches/main/revert", json={"ref": made["id"]})
    assert reverted.status_code == 201, reverted.text
    listing = client.get(f"{REPO}/objects", params={"ref": "main"}).json()
    assert listing["items"] == []


def test_branch_protection_refuses_direct_writes(client: TestClient) -> None:
    assert client.get(f"{REPO}/branch-protection").json() == {"patterns": []}
    saved = client.put(f"{REPO}/branch-protection", json={"patterns": ["main", " main ", "rel-*"]})
    assert saved.json() == {"patterns": ["main", "rel-*"]}
    refused = client.put(f"{REPO}/branches/main/objects", params={"path": "x.csv"}, content=b"x")
    assert refused.status_code == 403
    assert "protected" in refused.json()["detail"]
    assert client.get(f"{REPO}/branches/main/changes").json() == []
    assert client.put(f"{REPO}/branch-protection", json={"patterns": []}).json() == {"patterns": []}


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/branches", {"name": "bad name!", "source": "main"}, 400),
        ("POST", "/branches", {"name": "dev", "source": "nowhere"}, 404),
        ("POST", "/branches", {"name": "", "source": "main"}, 422),
        ("DELETE", "/branches/main", None, 403),
        ("DELETE", "/branches/nowhere", None, 404),
        ("POST", "/branches/main/commits", {"message": "nothing"}, 400),
        ("POST", "/branches/main/commits", {"message": ""}, 422),
        ("POST", "/branches/main/merge", {"source": "main", "strategy": "mine"}, 422),
        ("POST", "/branches/main/revert", {"ref": "nowhere"}, 404),
        ("POST", "/tags", {"name": "v1", "ref": "nowhere"}, 404),
    ],
)
def test_bad_input_is_a_4xx_with_a_detail(
    client: TestClient, method: str, path: str, body: object, status: int
) -> None:
    response = client.request(method, REPO + path, json=body)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    refs = client.get(f"{REPO}/refs").json()
    assert [b["name"] for b in refs["branches"]] == ["main"]  # nothing half-written


def test_a_read_only_token_may_not_write(client: TestClient, context: StorageContext) -> None:
    reader = issue_token(context.jwt_secret, "viewer", scopes=["datasets:read"])
    headers = {"Authorization": f"Bearer {reader}"}
    assert client.get(f"{REPO}/branches/main/changes", headers=headers).status_code == 200
    refused = client.post(
        f"{REPO}/branches", json={"name": "dev", "source": "main"}, headers=headers
    )
    assert refused.status_code == 403
    assert refused.json() == {"detail": "this token does not grant the 'datasets:write' scope"}


def test_pre_signed_upload_signs_puts_elsewhere_and_links(
    client: TestClient, context: StorageContext
) -> None:
    """The console's path: an address and a URL, the bytes PUT to the signed store route (not
    an API route), then a link checked against what the store holds."""
    data = b"id,label\n1,top\n"
    target = client.post(f"{REPO}/branches/main/objects/presign", params={"path": "t.csv"})
    assert target.status_code == 200, target.text
    body = target.json()
    assert "/_storage/objects/" in body["upload_url"]
    put = client.put(body["upload_url"], content=data, headers=body["upload_headers"])
    assert put.status_code == 200, put.text
    etag = put.headers["etag"]

    def link(**changes: object) -> object:
        payload = {
            "physical_address": body["physical_address"],
            "size_bytes": len(data),
            "checksum": etag,
            "content_type": "text/csv",
        } | changes
        return client.post(
            f"{REPO}/branches/main/objects/link", params={"path": "t.csv"}, json=payload
        )

    wrong = link(checksum='"0123456789abcdef0123456789abcdef"')
    assert wrong.status_code == 400
    assert "does not match" in wrong.json()["detail"]
    assert link(size_bytes=1).status_code == 400
    assert link(physical_address="local://elsewhere/x").status_code == 400
    assert client.get(f"{REPO}/branches/main/changes").json() == []  # nothing staged
    linked = link()
    assert linked.status_code == 201, linked.text
    changes = client.get(f"{REPO}/branches/main/changes").json()
    assert [(c["type"], c["path"]) for c in changes] == [("added", "t.csv")]
    assert b"".join(context.datasets.get_object("garments", "main", "t.csv")) == data
    other = client.post(
        f"{REPO}/branches/main/objects/link",
        params={"path": "u.csv"},
        json={
            "physical_address": body["physical_address"],
            "size_bytes": len(data),
            "checksum": etag,
        },
    )
    assert other.status_code == 400  # an address issued for another path
