"""The official lakeFS clients against our lakeFS-compatible API, over a real socket.

The high-level ``lakefs`` SDK for the everyday flow, ``lakefs_sdk`` for what it does not wrap
(hard reset, three-dot diff) and for the error statuses. Their pydantic models check every
response we send.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import lakefs
import lakefs_sdk
import pytest
from lakefs.exceptions import (
    ConflictException,
    ForbiddenException,
    NotAuthorizedException,
    NotFoundException,
    ObjectExistsException,
    ObjectNotFoundException,
)
from lakefs_sdk.client import LakeFSClient
from lakefs_sdk.exceptions import ApiException

from tests.support.lakefs import KEY_ID, SECRET, Service, unique


@pytest.fixture
def repo(sdk_repository: lakefs.Repository) -> lakefs.Repository:
    """The high-level SDK's repository, for every test here."""
    return sdk_repository


def test_server_config_offers_the_pre_signed_path(client: lakefs.Client) -> None:
    """So the SDKs move object bytes straight to and from the store by default; no multipart
    on the embedded backend (it has no multipart upload)."""
    assert client.storage_config.pre_sign_support is True
    assert client.storage_config.pre_sign_support_ui is True
    storage = client.sdk_client.config_api.get_config().storage_config
    assert storage is not None
    assert storage.pre_sign_multipart_upload is False
    assert client.storage_config.import_support is True
    assert client.storage_config.blockstore_type == "local"
    assert client.version


def test_everyday_flow_with_the_high_level_sdk(repo: lakefs.Repository) -> None:
    main = repo.branch("main")
    first = list(main.log())
    assert [c.message for c in first] == ["Repository created"]

    main.object("labels/0001.json").upload(
        data=b'{"label": "dress"}', content_type="application/json", metadata={"source": "v1"}
    )
    main.object("images/0001.jpg").upload(data=b"\xff\xd8jpeg", content_type="image/jpeg")
    assert {c.path for c in main.uncommitted()} == {"labels/0001.json", "images/0001.jpg"}
    v1 = main.commit(message="first labels", metadata={"run": "1"})
    assert list(main.uncommitted()) == []
    assert repo.commit(v1.id).get_commit().metadata == {"run": "1"}

    stat = main.object("labels/0001.json").stat()
    assert (stat.size_bytes, stat.content_type, stat.metadata) == (
        18,
        "application/json",
        {"source": "v1"},
    )
    with main.object("labels/0001.json").reader(mode="rb") as reader:
        assert reader.read() == b'{"label": "dress"}'
    with main.object("labels/0001.json").reader(mode="rb") as reader:
        reader.seek(2)
        assert reader.read(5) == b"label"
    assert [o.path for o in main.objects(delimiter="/")] == ["images/", "labels/"]

    exp = repo.branch("exp-1").create(source_reference="main")
    exp.object("labels/0001.json").upload(
        data=b'{"label": "skirt"}', content_type="application/json"
    )
    exp.object("labels/0002.json").upload(data=b'{"label": "coat"}')
    exp.commit(message="relabel")
    changes = {(c.type, c.path) for c in repo.ref("main").diff(other_ref=exp)}
    assert changes == {("changed", "labels/0001.json"), ("added", "labels/0002.json")}

    main.object("labels/0001.json").upload(
        data=b'{"label": "shirt"}', content_type="application/json"
    )
    main.commit(message="conflicting relabel")
    with pytest.raises(ConflictException):
        exp.merge_into(main)
    merged = exp.merge_into(main, strategy="source-wins", message="take exp")
    merge_commit = repo.commit(merged).get_commit()
    assert len(merge_commit.parents) == 2
    assert main.object("labels/0001.json").reader().read() == b'{"label": "skirt"}'

    repo.tag("eval-v1").create(source_ref=merged)
    assert repo.tag("eval-v1").get_commit().id == merged
    assert [t.id for t in repo.tags()] == ["eval-v1"]

    main.revert(reference=merged, parent_number=1)
    assert main.object("labels/0001.json").reader().read() == b'{"label": "shirt"}'
    assert not main.object("labels/0002.json").exists()
    assert repo.ref("eval-v1").object("labels/0002.json").exists()

    main.object("scratch.txt").upload(data=b"tmp")
    main.object("labels/0001.json").delete()
    assert len(list(main.uncommitted())) == 2
    main.reset_changes("object", "scratch.txt")
    assert [c.path for c in main.uncommitted()] == ["labels/0001.json"]
    main.reset_changes()
    assert list(main.uncommitted()) == []

    messages = [c.message for c in main.log(max_amount=3)]
    assert messages[0].startswith("Revert")
    assert {b.id for b in repo.branches()} == {"main", "exp-1"}
    exp.delete()
    assert [b.id for b in repo.branches()] == ["main"]


def test_create_only_upload_and_missing_objects(repo: lakefs.Repository) -> None:
    main = repo.branch("main")
    main.object("a.txt").upload(data=b"one", mode="x")
    with pytest.raises(ObjectExistsException):
        main.object("a.txt").upload(data=b"two", mode="x")
    with pytest.raises(ObjectNotFoundException):
        main.object("missing.txt").reader().read()
    main.object("missing.txt").delete()  # lakeFS: deleting a missing object is not an error
    main.delete_objects(["a.txt", "nope.txt"])
    assert list(main.objects()) == []


def test_copy_and_bulk_listing(repo: lakefs.Repository) -> None:
    main = repo.branch("main")
    for i in range(5):
        main.object(f"d/{i}.txt").upload(data=str(i).encode())
    main.object("d/0.txt").copy("main", "e/0.txt")
    assert main.object("e/0.txt").reader().read() == b"0"
    assert len(list(main.objects(prefix="d/", max_amount=5))) == 5


def test_import_by_reference(service: Service, repo: lakefs.Repository) -> None:
    store = service.datasets_folder
    prefix = unique("import-src")
    store.put(f"{prefix}/a.json", b'{"a": 1}', content_type="application/json")
    store.put(f"{prefix}/b/c.json", b'{"c": 2}', content_type="application/json")
    status = (
        repo.branch("main")
        .import_data(commit_message="bring in the source")
        .prefix(f"local://{prefix}/", destination="raw/")
        .run(poll_interval=timedelta(milliseconds=20))
    )
    assert status.completed
    assert status.error is None
    assert status.commit is not None
    assert status.commit.message == "bring in the source"
    main = repo.branch("main")
    assert sorted(o.path for o in main.objects(prefix="raw/")) == ["raw/a.json", "raw/b/c.json"]
    assert main.object("raw/b/c.json").reader().read() == b'{"c": 2}'


def test_hard_reset_and_three_dot_conflicts(sdk: LakeFSClient, repo: lakefs.Repository) -> None:
    main = repo.branch("main")
    main.object("x.txt").upload(data=b"base")
    base = main.commit(message="base").id
    main.object("x.txt").upload(data=b"later")
    main.commit(message="later")

    sdk.experimental_api.hard_reset_branch(repo.id, "main", base)
    assert sdk.branches_api.get_branch(repo.id, "main").commit_id == base
    assert main.object("x.txt").reader().read() == b"base"

    side = repo.branch("side").create(source_reference="main")
    side.object("x.txt").upload(data=b"side")
    side.commit(message="side")
    main.object("x.txt").upload(data=b"main")
    main.commit(message="main")
    diff = sdk.refs_api.diff_refs(repo.id, "main", "side", type="three_dot")
    assert [(d.type, d.path) for d in diff.results] == [("conflict", "x.txt")]
    with pytest.raises(ApiException) as raised:
        sdk.refs_api.merge_into_branch(repo.id, "side", "main", lakefs_sdk.Merge())
    assert raised.value.status == 409
    assert "x.txt" in str(raised.value.body)
    found = sdk.refs_api.find_merge_base(repo.id, "side", "main")
    assert found.base_commit_id == base


def test_error_statuses(service: Service, sdk: LakeFSClient, repo: lakefs.Repository) -> None:
    bad = lakefs.Client(host=service.lakefs, username=KEY_ID, password="wrong")
    with pytest.raises(NotAuthorizedException):
        list(lakefs.repositories(client=bad))
    with pytest.raises(NotFoundException):
        lakefs.repository(unique("nope"), client=repo._client).branch("main").get_commit()
    with pytest.raises(ConflictException):
        repo.branch("main").create(source_reference="main")
    with pytest.raises(ForbiddenException):
        repo.branch("main").delete()

    def status_of(call: object) -> int:
        assert callable(call)
        with pytest.raises(ApiException) as raised:
            call()
        assert raised.value.status is not None
        return int(raised.value.status)

    commits = sdk.commits_api
    assert (
        status_of(lambda: commits.commit(repo.id, "main", lakefs_sdk.CommitCreation(message="m")))
        == 400
    )
    repo.branch("other").create(source_reference="main")
    repo.branch("main").object("dirty.txt").upload(data=b"d")
    merge = lakefs_sdk.Merge(allow_empty=True)
    assert status_of(lambda: sdk.refs_api.merge_into_branch(repo.id, "other", "main", merge)) == 400
    assert status_of(lambda: sdk.repositories_api.get_repository(unique("nope"))) == 404


def test_raw_http_shapes(service: Service) -> None:
    with httpx.Client(base_url=service.lakefs, timeout=10) as http:
        assert http.get("/healthcheck").status_code == 204
        denied = http.get("/config")
        assert denied.status_code == 401
        assert "message" in denied.json()
        auth = (KEY_ID, SECRET)
        assert http.get("/user", auth=auth).json()["user"]["id"] == "admin"
        missing = http.get("/repositories/no-such-repo", auth=auth)
        assert missing.status_code == 404
        assert "not found" in missing.json()["message"]
        invalid = http.post("/repositories", auth=auth, json={"name": "x"})
        assert invalid.status_code == 400
        assert "message" in invalid.json()


def test_multipart_upload_and_settings(sdk: LakeFSClient, repo: lakefs.Repository) -> None:
    stats = sdk.objects_api.upload_object(repo.id, "main", "m.bin", content=b"multipart!")
    assert (stats.path, stats.size_bytes) == ("m.bin", 10)
    api = sdk.repositories_api
    rules = lakefs_sdk.GarbageCollectionRules(
        default_retention_days=7,
        branches=[lakefs_sdk.GarbageCollectionRule(branch_id="main", retention_days=30)],
    )
    api.set_gc_rules(repo.id, rules)
    got = api.get_gc_rules(repo.id)
    assert (got.default_retention_days, got.branches[0].retention_days) == (7, 30)
    api.set_branch_protection_rules(repo.id, [lakefs_sdk.BranchProtectionRule(pattern="main")])
    assert [r.pattern for r in api.get_branch_protection_rules(repo.id)] == ["main"]
    with pytest.raises(ApiException) as raised:
        sdk.objects_api.upload_object(repo.id, "main", "n.bin", content=b"no")
    assert raised.value.status == 403
