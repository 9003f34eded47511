"""The rest of lakeFS's operations the official clients call (issue 16): the auth API's users
and keys ("who am I", rotation), repository metadata, an object's user metadata, the committed
tree's files and the refs dump and restore, each through ``lakefs_sdk`` against the running
service, each answer checked against lakeFS's schema."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator

import httpx
import lakefs
import lakefs_sdk
import pytest
from lakefs_sdk.client import LakeFSClient
from lakefs_sdk.exceptions import ApiException
from lakefs_sdk.models import (
    CredentialsList,
    CredentialsWithSecret,
    CurrentUser,
    RefsDump,
    StorageURI,
    User,
    UserList,
)

from sartiq_storage.core.datasets.ranges import decode_metarange, decode_range
from tests.support.lakefs import KEY_ID, SECRET, Service, unique
from tests.support.lakefs_schema import conforms


@pytest.fixture
def http(service: Service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.lakefs, auth=(KEY_ID, SECRET)) as session:
        yield session


def _client(service: Service, key_id: str, secret: str) -> LakeFSClient:
    config = lakefs_sdk.Configuration(host=service.lakefs, username=key_id, password=secret)
    return LakeFSClient(config)


def _status(call: object) -> tuple[int, str]:
    assert callable(call)
    with pytest.raises(ApiException) as raised:
        call()
    return raised.value.status, json.loads(raised.value.body or "{}").get("message", "")


# -- the auth API ---------------------------------------------------------------------------


def test_who_am_i_with_the_configured_key(sdk: LakeFSClient, http: httpx.Client) -> None:
    me = sdk.auth_api.get_current_user()
    assert me.user.id == "admin"
    body = http.get("/user").json()
    conforms(CurrentUser, body)
    assert body["user"]["friendly_name"] == "admin"  # lakeFS: the id when none is set


def test_users_are_created_listed_and_deleted(sdk: LakeFSClient, http: httpx.Client) -> None:
    name = unique("user")
    made = sdk.auth_api.create_user(lakefs_sdk.UserCreation(id=name))
    assert made.id == name
    conforms(User, http.get(f"/auth/users/{name}").json())
    assert _status(lambda: sdk.auth_api.create_user(lakefs_sdk.UserCreation(id=name))) == (
        409,
        "Already exists",
    )
    listing = http.get("/auth/users", params={"prefix": name}).json()
    conforms(UserList, listing)
    assert [u["id"] for u in listing["results"]] == [name]
    every = [u.id for u in sdk.auth_api.list_users(amount=1000).results]
    assert {"admin", name} <= set(every)

    sdk.auth_api.delete_user(name)
    assert _status(lambda: sdk.auth_api.get_user(name)) == (404, "user not found")
    assert _status(lambda: sdk.auth_api.delete_user(name)) == (404, "user not found")
    refused = http.post("/auth/users", json={"id": "a%b"})
    assert refused.status_code == 400
    assert refused.json() == {"message": "User name cannot contain '%'"}
    invite = http.post("/auth/users", json={"id": "not-an-email", "invite_user": True})
    assert (invite.status_code, invite.json()["message"]) == (400, "Invalid email format")


def test_keys_rotate_and_the_new_key_says_who_it_is(
    service: Service, sdk: LakeFSClient, http: httpx.Client
) -> None:
    name = unique("rotate")
    sdk.auth_api.create_user(lakefs_sdk.UserCreation(id=name))
    first_body = http.post(f"/auth/users/{name}/credentials")
    assert first_body.status_code == 201
    first = conforms(CredentialsWithSecret, first_body.json())
    assert first.access_key_id.startswith("AKIAJ")
    assert len(first.access_key_id) == 20
    assert len(first.secret_access_key) == 40

    as_user = _client(service, first.access_key_id, first.secret_access_key)
    assert as_user.auth_api.get_current_user().user.id == name
    second = as_user.auth_api.create_credentials(name)  # rotation, by the user themself
    listed = http.get(f"/auth/users/{name}/credentials").json()
    conforms(CredentialsList, listed)
    assert sorted(c["access_key_id"] for c in listed["results"]) == sorted(
        [first.access_key_id, second.access_key_id]
    )
    got = sdk.auth_api.get_credentials(name, second.access_key_id)
    assert got.access_key_id == second.access_key_id

    sdk.auth_api.delete_credentials(name, first.access_key_id)
    assert _status(as_user.auth_api.get_current_user)[0] == 401
    rotated = _client(service, second.access_key_id, second.secret_access_key)
    assert rotated.auth_api.get_current_user().user.id == name
    wrong_secret = _client(service, second.access_key_id, first.secret_access_key)
    assert _status(wrong_secret.auth_api.get_current_user)[0] == 401
    assert _status(lambda: sdk.auth_api.get_credentials("admin", second.access_key_id)) == (
        404,
        "credentials not found",
    )
    # Deleting the user takes their keys with them; the configured pair never stops working.
    sdk.auth_api.delete_user(name)
    assert _status(rotated.auth_api.get_current_user)[0] == 401
    assert sdk.auth_api.get_current_user().user.id == "admin"
    admin_keys = [c.access_key_id for c in sdk.auth_api.list_user_credentials("admin").results]
    assert KEY_ID in admin_keys
    refused = http.delete(f"/auth/users/admin/credentials/{KEY_ID}")
    assert refused.status_code == 400
    assert http.delete("/auth/users/admin").status_code == 400


def test_groups_and_policies_are_not_implemented(sdk: LakeFSClient, http: httpx.Client) -> None:
    """What lakeFS's basic auth service answers for them."""
    assert _status(sdk.auth_api.list_groups) == (501, "Not implemented")
    assert _status(sdk.auth_api.list_policies) == (501, "Not implemented")
    assert _status(lambda: sdk.auth_api.list_user_groups("admin")) == (501, "Not implemented")
    assert http.put("/auth/users/admin/policies/FSFullAccess").status_code == 501


def test_every_new_operation_wants_credentials(service: Service) -> None:
    paths = [
        ("GET", "/user"),
        ("GET", "/auth/users"),
        ("POST", "/auth/users/x/credentials"),
        ("GET", "/auth/groups"),
        ("POST", "/repositories/r/metadata"),
        ("GET", "/repositories/r/metadata/meta_range/x"),
        ("GET", "/repositories/r/metadata/object/range/x"),
        ("PUT", "/repositories/r/refs/dump"),
        ("PUT", "/repositories/r/refs/restore"),
        ("PUT", "/repositories/r/branches/main/objects/stat/user_metadata?path=a"),
    ]
    for method, path in paths:
        reply = httpx.request(method, service.lakefs + path)
        assert reply.status_code == 401, (method, path, reply.text)
        assert "message" in reply.json()


# -- repository and object metadata ---------------------------------------------------------


def test_repository_metadata_merges_and_deletes(
    sdk: LakeFSClient, sdk_repository: lakefs.Repository, http: httpx.Client
) -> None:
    repo = sdk_repository.id
    assert sdk.repositories_api.get_repository_metadata(repo) == {}
    sdk.internal_api.set_repository_metadata(
        repo, lakefs_sdk.RepositoryMetadataSet(metadata={"team": "ml", "tier": "gold"})
    )
    sdk.internal_api.set_repository_metadata(
        repo, lakefs_sdk.RepositoryMetadataSet(metadata={"tier": "silver"})
    )
    assert sdk.repositories_api.get_repository_metadata(repo) == {"team": "ml", "tier": "silver"}
    assert sdk_repository.metadata == {"team": "ml", "tier": "silver"}
    sdk.internal_api.delete_repository_metadata(
        repo, lakefs_sdk.RepositoryMetadataKeys(keys=["team", "absent"])
    )
    assert http.get(f"/repositories/{repo}/metadata").json() == {"tier": "silver"}
    missing = http.post("/repositories/no-such-repo/metadata", json={"metadata": {"a": "b"}})
    assert missing.status_code == 404
    assert http.post(f"/repositories/{repo}/metadata", json={}).status_code == 400


def test_object_user_metadata_is_rewritten_as_a_staged_change(
    sdk: LakeFSClient, sdk_repository: lakefs.Repository, http: httpx.Client
) -> None:
    repo = sdk_repository.id
    main = sdk_repository.branch("main")
    main.object("img/a.png").upload(b"png bytes", metadata={"old": "1"})
    main.commit("add a")
    before = sdk.objects_api.stat_object(repo, "main", "img/a.png")

    sdk.objects_api.update_object_user_metadata(
        repo,
        "main",
        "img/a.png",
        lakefs_sdk.UpdateObjectUserMetadata(set={"new": "2", "x": "y"}),
    )
    after = sdk.objects_api.stat_object(repo, "main", "img/a.png")
    assert after.metadata == {"new": "2", "x": "y"}
    assert (after.checksum, after.physical_address) == (before.checksum, before.physical_address)
    assert [(c.type, c.path) for c in main.uncommitted()] == [("changed", "img/a.png")]
    assert main.object("img/a.png").reader().read() == b"png bytes"

    url = f"/repositories/{repo}/branches/main/objects/stat/user_metadata"
    missing = http.put(url, params={"path": "nope"}, json={"set": {}})
    assert missing.status_code == 404
    assert http.put(url, params={"path": "img/a.png"}, json={}).status_code == 400
    sdk.repositories_api.set_branch_protection_rules(
        repo, [lakefs_sdk.BranchProtectionRule(pattern="main")]
    )
    protected = http.put(url, params={"path": "img/a.png"}, json={"set": {"k": "v"}})
    assert (protected.status_code, protected.json()["message"].split(":")[0]) == (
        403,
        "cannot write to protected branch",
    )


# -- metaranges and ranges ------------------------------------------------------------------


def test_metarange_and_range_files_as_lakefs_serves_them(
    sdk: LakeFSClient, sdk_repository: lakefs.Repository, http: httpx.Client
) -> None:
    repo = sdk_repository.id
    main = sdk_repository.branch("main")
    for i in range(3):
        main.object(f"t/{i}.csv").upload(f"a,b\n{i},{i}\n".encode())
    commit = main.commit("three tables")
    metarange_id = commit.get_commit().meta_range_id

    uri = sdk.metadata_api.get_meta_range(repo, metarange_id)
    reply = http.get(f"/repositories/{repo}/metadata/meta_range/{metarange_id}")
    conforms(StorageURI, reply.json())
    assert reply.headers["Location"] == uri.location
    assert uri.location.startswith(sdk_repository.properties.storage_namespace + "/")
    assert uri.location.endswith(metarange_id)

    raw = sdk.internal_api.get_metadata_object(repo, metarange_id, "meta_range")
    ranges = decode_metarange(bytes(raw))
    assert sum(r.count for r in ranges) == 3
    range_id = ranges[0].id
    assert sdk.metadata_api.get_range(repo, range_id).location.endswith(range_id)
    file = http.get(f"/repositories/{repo}/metadata/object/range/{range_id}")
    assert file.headers["content-type"] == "application/octet-stream"
    assert int(file.headers["content-length"]) == len(file.content)
    assert [r.path for r in decode_range(file.content)] == [f"t/{i}.csv" for i in range(3)]
    assert zlib.decompress(file.content)  # the committed store's own compressed file

    assert http.get(f"/repositories/{repo}/metadata/range/{'0' * 64}").status_code == 404
    assert http.get(f"/repositories/{repo}/metadata/object/range/{'0' * 64}").status_code == 404
    bad_type = http.get(f"/repositories/{repo}/metadata/object/tree/{range_id}")
    assert bad_type.status_code == 400
    presigned = http.get(
        f"/repositories/{repo}/metadata/object/range/{range_id}", params={"presign": "true"}
    )
    assert presigned.status_code == 400


# -- refs dump and restore ------------------------------------------------------------------


def test_dump_then_restore_into_a_bare_repository(
    service: Service, sdk: LakeFSClient, client: lakefs.Client, http: httpx.Client
) -> None:
    name = unique("dump")
    namespace = f"local://datasets/{name}"
    origin = lakefs.repository(name, client=client).create(storage_namespace=namespace)
    main = origin.branch("main")
    main.object("a.txt").upload(b"a")
    main.commit("a", metadata={"k": "v"})
    feature = origin.branch("feature").create(main)
    feature.object("b.txt").upload(b"b")
    feature.commit("b")
    origin.tag("v1").create(main)
    sdk.branches_api.create_branch(
        name, lakefs_sdk.BranchCreation(name="ghost", source="feature", hidden=True)
    )
    log = [c.id for c in feature.log()]
    heads = {b.id: b.get_commit().id for b in origin.branches()}

    dumped = http.put(f"/repositories/{name}/refs/dump")
    assert dumped.status_code == 201
    dump = conforms(RefsDump, dumped.json())
    store, prefix = service.context.datasets.store_for(name)  # type: ignore[attr-defined]
    manifest = store.get_bytes(f"{prefix}/_meta/refs_manifest.json")
    assert json.loads(manifest) == dumped.json()
    again = sdk.internal_api.dump_refs(name)
    assert again.commits_meta_range_id == dump.commits_meta_range_id  # content-addressed

    not_bare = _status(
        lambda: sdk.internal_api.restore_refs(name, lakefs_sdk.RefsRestore(**dumped.json()))
    )
    assert not_bare == (400, "can only restore into a bare repository")

    origin.delete()  # metadata only: the namespace keeps its objects and the dump
    bare = sdk.repositories_api.create_repository(
        lakefs_sdk.RepositoryCreation(name=name, storage_namespace=namespace), bare=True
    )
    assert bare.id == name
    assert sdk.branches_api.list_branches(name).results == []
    unknown = dict(dumped.json(), tags_meta_range_id="f" * 64)
    assert (
        _status(lambda: sdk.internal_api.restore_refs(name, lakefs_sdk.RefsRestore(**unknown)))[0]
        == 404
    )
    assert sdk.branches_api.list_branches(name).results == []  # nothing half-restored

    reply = http.put(f"/repositories/{name}/refs/restore", json=dumped.json())
    assert reply.status_code == 200

    restored = lakefs.repository(name, client=client)
    assert {b.id: b.get_commit().id for b in restored.branches()} == heads
    assert [c.id for c in restored.branch("feature").log()] == log
    assert restored.tag("v1").get_commit().id == heads["main"]
    assert restored.branch("main").get_commit().metadata == {"k": "v"}
    assert restored.branch("feature").object("b.txt").reader().read() == b"b"
    hidden = sdk.branches_api.list_branches(name, show_hidden=True).results
    assert "ghost" in [r.id for r in hidden]
    restored.branch("main").object("c.txt").upload(b"c")
    assert restored.branch("main").commit("after restore").get_commit().parents == [heads["main"]]
