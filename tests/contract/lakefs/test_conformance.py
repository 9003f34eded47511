"""What the official lakeFS clients do that a lakeFS server answers in a particular way
(issue 16): cherry-pick, hidden branches, sample repositories, storage ids, merge "no changes",
error wordings and schema details lakeFS's own spec sets (api/swagger.yml, v1.50.0)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import lakefs
import lakefs_sdk
import pytest
from lakefs.exceptions import BadRequestException, ConflictException, ForbiddenException
from lakefs_sdk.client import LakeFSClient
from lakefs_sdk.exceptions import ApiException

from tests.support.lakefs import KEY_ID, SECRET, Service, unique, wait_for_import


@pytest.fixture
def http(service: Service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.lakefs, auth=(KEY_ID, SECRET)) as session:
        yield session


@pytest.fixture
def repo(sdk_repository: lakefs.Repository) -> lakefs.Repository:
    return sdk_repository


def test_cherry_pick_applies_one_commit_with_its_message(
    sdk: LakeFSClient, repo: lakefs.Repository
) -> None:
    main = repo.branch("main")
    feature = repo.branch("feature").create(main)
    feature.object("a.txt").upload(b"a")
    picked = feature.commit("add a", metadata={"k": "v"})
    feature.object("b.txt").upload(b"b")
    feature.commit("add b")
    before = main.get_commit().id
    # main protected, as lakeFS's quickstart leaves it: cherry-picks land all the same
    sdk.repositories_api.set_branch_protection_rules(
        repo.id, [lakefs_sdk.BranchProtectionRule(pattern="main")]
    )

    made = main.cherry_pick(picked)

    assert made.message == "add a"
    assert made.metadata["k"] == "v"
    assert made.metadata["cherry-pick-origin"] == picked.id
    assert made.parents == [before]
    assert [o.path for o in main.objects()] == ["a.txt"]


def test_transaction_branch_is_hidden_from_listings(repo: lakefs.Repository) -> None:
    main = repo.branch("main")
    with main.transact(commit_message="tx") as tx:
        tx.object("t.txt").upload(b"t")
        listed = [b.id for b in repo.branches()]
        assert tx.id not in listed
        assert "main" in listed
        assert tx.get_commit().id  # the hidden branch itself is reachable by name
    assert main.object("t.txt").exists()


def test_hidden_branches_listed_on_request(sdk: LakeFSClient, repo: lakefs.Repository) -> None:
    sdk.branches_api.create_branch(
        repo.id, lakefs_sdk.BranchCreation(name="ghost", source="main", hidden=True)
    )
    plain = sdk.branches_api.list_branches(repo.id)
    every = sdk.branches_api.list_branches(repo.id, show_hidden=True)
    assert [r.id for r in plain.results] == ["main"]
    assert [r.id for r in every.results] == ["ghost", "main"]


def test_repository_with_sample_data(client: lakefs.Client) -> None:
    name = unique("sample")
    repository = lakefs.repository(name, client=client).create(
        storage_namespace=f"local://datasets/{name}", include_samples=True
    )
    try:
        main = repository.branch("main")
        paths = [o.path for o in main.objects()]
        assert "README.md" in paths
        assert "tables/garments.csv" in paths
        images = [p for p in paths if p.startswith("images/") and p.endswith(".png")]
        assert images
        with main.object(images[0]).reader(mode="rb") as image:
            assert image.read(8) == b"\x89PNG\r\n\x1a\n"
        with main.object("tables/garments.csv").reader(mode="r") as table:
            rows = list(csv.DictReader(io.StringIO(table.read())))
        assert {row["image"] for row in rows} == set(images)
        assert main.get_commit().message == "Add sample data"
        with pytest.raises(ForbiddenException) as refused:
            main.object("x.txt").upload(b"x", pre_sign=False)
        assert "cannot write to protected branch" in str(refused.value)
        # The SDK's pre-signed upload lets lakefs_sdk's own exception through (as on lakeFS)
        with pytest.raises(lakefs_sdk.exceptions.ForbiddenException) as refused_presigned:
            main.object("x.txt").upload(b"x", pre_sign=True)
        assert "cannot write to protected branch" in str(refused_presigned.value)

        # An existing repository answers 409 first: exist_ok hands it back.
        again = lakefs.repository(name, client=client).create(
            storage_namespace=f"local://datasets/{name}", include_samples=True, exist_ok=True
        )
        assert again.id == name
    finally:
        repository.delete()


def test_unknown_storage_id_refused(client: lakefs.Client) -> None:
    name = unique("sid")
    with pytest.raises(BadRequestException) as refused:
        lakefs.repository(name, client=client).create(
            storage_namespace=f"local://datasets/{name}", storage_id="nowhere"
        )
    assert "storage id" in str(refused.value)
    with pytest.raises(lakefs.exceptions.NotFoundException):
        lakefs.repository(name, client=client).branch("main").get_commit()


def test_namespace_must_match_the_advertised_pattern(http: httpx.Client) -> None:
    pattern = http.get("/config/storage").json()["blockstore_namespace_ValidityRegex"]
    assert pattern == "^local://"
    for namespace in ("mem://elsewhere", "s3://bucket/x", "r2://bucket/x"):
        name = unique("ns")
        made = http.post("/repositories", json={"name": name, "storage_namespace": namespace})
        assert made.status_code == 400, namespace
        assert "^local://" in made.json()["message"]
        assert http.get(f"/repositories/{name}").status_code == 404


def test_merge_of_changes_the_destination_has_is_a_merge_commit(
    repo: lakefs.Repository,
) -> None:
    main = repo.branch("main")
    feature = repo.branch("feature").create(main)
    feature.object("same.txt").upload(b"same")
    feature.commit("on feature")
    main.object("same.txt").upload(b"same")
    main.commit("same on main")

    merged = feature.merge_into(main)

    commit = main.get_commit()
    assert commit.id == merged
    assert len(commit.parents) == 2
    # Merging again: the source's tree now equals the merge base's, so "no changes".
    with pytest.raises(BadRequestException) as again:
        feature.merge_into(main)
    assert "no changes" in str(again.value)


def test_uncommitted_delete_has_size_zero(repo: lakefs.Repository) -> None:
    main = repo.branch("main")
    main.object("gone.txt").upload(b"twelve bytes")
    main.commit("add")
    main.object("gone.txt").delete()
    [change] = list(main.uncommitted())
    assert (change.type, change.path, change.size_bytes) == ("removed", "gone.txt", 0)


def test_error_texts_clients_match_on(sdk: LakeFSClient, repo: lakefs.Repository) -> None:
    repo.tag("v1.0.0").create("main")
    with pytest.raises(ConflictException) as tag:
        repo.tag("v1.0.0").create("main")
    assert "tag already exists" in str(tag.value)

    sdk.repositories_api.set_branch_protection_rules(
        repo.id, [lakefs_sdk.BranchProtectionRule(pattern="main")]
    )
    with pytest.raises(ForbiddenException) as protected:
        repo.branch("main").object("p.txt").upload(b"p", pre_sign=False)
    assert "cannot write to protected branch" in str(protected.value)
    with pytest.raises(lakefs_sdk.exceptions.ForbiddenException) as presigned:
        repo.branch("main").object("p.txt").upload(b"p", pre_sign=True)
    assert "cannot write to protected branch" in str(presigned.value)


def test_revert_with_commit_overrides(sdk: LakeFSClient, repo: lakefs.Repository) -> None:
    main = repo.branch("main")
    main.object("r.txt").upload(b"r")
    added = main.commit("add r")
    sdk.branches_api.revert_branch(
        repo.id,
        "main",
        lakefs_sdk.RevertCreation(
            ref=added.id,
            parent_number=0,
            commit_overrides=lakefs_sdk.CommitOverrides(message="undo r", metadata={"why": "x"}),
        ),
    )
    head = main.get_commit()
    assert (head.message, head.metadata) == ("undo r", {"why": "x"})
    assert not main.object("r.txt").exists()


def test_cherry_pick_errors(sdk: LakeFSClient, repo: lakefs.Repository) -> None:
    main = repo.branch("main")
    with pytest.raises(ApiException) as missing:
        sdk.branches_api.cherry_pick(
            repo.id, "main", lakefs_sdk.CherryPickCreation(ref="no-such-ref")
        )
    assert missing.value.status == 404
    main.object("dirty.txt").upload(b"d")
    feature = repo.branch("f2").create(main)
    feature.object("f.txt").upload(b"f")
    picked = feature.commit("f")
    with pytest.raises(ApiException) as dirty:
        sdk.branches_api.cherry_pick(repo.id, "main", lakefs_sdk.CherryPickCreation(ref=picked.id))
    assert dirty.value.status == 400


# -- schema details, as lakeFS's spec and its validator have them ----------------------------


def test_optional_fields_are_left_out_rather_than_null(
    service: Service, http: httpx.Client, repo: lakefs.Repository
) -> None:
    # Never null: lakeFS's GetCurrentUser names it after the id when the user has none.
    assert http.get("/user").json()["user"]["friendly_name"] == "admin"
    main = repo.branch("main")
    main.object("dir/a.txt").upload(b"a", metadata={"k": "v"})
    main.object("top.txt").upload(b"t")
    base = f"/repositories/{repo.id}"

    stat = http.get(f"{base}/refs/main/objects/stat", params={"path": "top.txt"})
    assert stat.json()["metadata"] == {}
    bare = http.get(
        f"{base}/refs/main/objects/stat", params={"path": "top.txt", "user_metadata": "false"}
    )
    assert "metadata" not in bare.json()
    listed = http.get(
        f"{base}/refs/main/objects/ls", params={"delimiter": "/", "user_metadata": "false"}
    ).json()["results"]
    [prefix] = [r for r in listed if r["path_type"] == "common_prefix"]
    assert prefix["path"] == "dir/"
    assert not {"size_bytes", "metadata", "content_type"} & prefix.keys()
    assert all("metadata" not in r for r in listed)

    main.commit("both")
    feature = repo.branch("feature").create(main)
    feature.object("dir/b.txt").upload(b"b")
    feature.commit("b")
    diff = http.get(f"{base}/refs/main/diff/feature", params={"delimiter": "/"}).json()
    [changed] = diff["results"]
    assert changed["type"] == "prefix_changed"
    assert "size_bytes" not in changed

    source = unique("imp")
    service.datasets_folder.put(f"{source}/x.json", b"{}", content_type="application/json")
    started = http.post(
        f"{base}/branches/main/import",
        json={
            "paths": [
                {"path": f"local://{source}/", "destination": "imp/", "type": "common_prefix"}
            ],
            "commit": {"message": "import"},
        },
    )
    status = wait_for_import(http, f"{base}/branches/main/import", started.json()["id"])
    assert status["completed"] is True
    assert status["ingested_objects"] == 1  # lakeFS always reports the count
    assert "error" not in status


def test_not_found_and_method_not_allowed_as_lakefs_answers(
    http: httpx.Client, repo: lakefs.Repository
) -> None:
    missing = http.get("/repositories/a%0Ab")
    assert missing.status_code == 404
    assert "message" in missing.json()
    refused = http.patch(f"/repositories/{repo.id}/branches/main")
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "DELETE, GET, PUT"


def test_input_lakefs_validator_refuses(http: httpx.Client, repo: lakefs.Repository) -> None:
    base = f"/repositories/{repo.id}"
    for amount in ("1001", "-2"):
        for path in ("/repositories", f"{base}/branches", f"{base}/refs/main/objects/ls"):
            assert http.get(path, params={"amount": amount}).status_code == 400, (path, amount)
    assert http.get(f"{base}/branches", params={"amount": "-1"}).status_code == 200

    repo.branch("main").object("r.txt").upload(b"0123456789")
    url = f"{base}/refs/main/objects"
    assert http.get(url, params={"path": "r.txt"}, headers={"Range": "pages=1"}).status_code == 400
    several = http.get(url, params={"path": "r.txt"}, headers={"Range": "bytes=0-1,3-4"})
    assert several.status_code == 416
    part = http.get(url, params={"path": "r.txt"}, headers={"Range": "bytes=2-4"})
    assert (part.status_code, part.content) == (206, b"234")
    # The spec's pattern, taken literally, backtracks exponentially on this header and held
    # the event loop (50 s at 18 repeats; 40 would never finish): it is refused at once.
    hostile = "bytes=" + "-11" * 40 + "x"
    assert http.get(url, params={"path": "r.txt"}, headers={"Range": hostile}).status_code == 400

    log = f"{base}/refs/main/commits"
    assert http.get(log, params={"since": "yesterday"}).status_code == 400
    assert len(http.get(log, params={"since": ""}).json()["results"]) == 1  # allowEmptyValue
    assert http.get(log, params={"since": "2999-01-01T00:00:00Z"}).json()["results"] == []
    assert len(http.get(log, params={"since": "2000-01-01T00:00:00Z"}).json()["results"]) == 1


def test_settings_as_lakefs_keeps_them(http: httpx.Client, repo: lakefs.Repository) -> None:
    gc = f"/repositories/{repo.id}/settings/gc_rules"
    assert http.get(gc).status_code == 404
    rules = {
        "default_retention_days": -1,
        "branches": [{"branch_id": "main", "retention_days": -3}],
    }
    assert http.put(gc, json=rules).status_code == 204
    assert http.get(gc).json() == rules

    protection = f"/repositories/{repo.id}/settings/branch_protection"
    assert http.get(protection).headers["ETag"] == '""'
    only_if_none = {"If-Match": '""'}
    rule = [{"pattern": "main"}]
    assert http.put(protection, json=rule, headers=only_if_none).status_code == 204
    assert http.put(protection, json=rule, headers=only_if_none).status_code == 412
    etag = http.get(protection).headers["ETag"]
    assert http.put(protection, json=[], headers={"If-Match": etag}).status_code == 204


def test_uncommitted_diff_groups_by_delimiter(http: httpx.Client, repo: lakefs.Repository) -> None:
    main = repo.branch("main")
    for path in ("a/1.txt", "a/2.txt", "b.txt"):
        main.object(path).upload(b"x")
    diff = http.get(f"/repositories/{repo.id}/branches/main/diff", params={"delimiter": "/"})
    rows = [(r["type"], r["path"]) for r in diff.json()["results"]]
    assert rows == [("prefix_changed", "a/"), ("added", "b.txt")]
