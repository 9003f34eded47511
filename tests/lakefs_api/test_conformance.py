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

from tests.lakefs_api.conftest import KEY_ID, SECRET, Service, unique


@pytest.fixture
def client(service: Service) -> lakefs.Client:
    return lakefs.Client(host=service.lakefs, username=KEY_ID, password=SECRET)


@pytest.fixture
def sdk(service: Service) -> LakeFSClient:
    config = lakefs_sdk.Configuration(host=service.lakefs, username=KEY_ID, password=SECRET)
    return LakeFSClient(config)


@pytest.fixture
def http(service: Service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.lakefs, auth=(KEY_ID, SECRET)) as session:
        yield session


@pytest.fixture
def repo(client: lakefs.Client) -> Iterator[lakefs.Repository]:
    name = unique("conf")
    repository = lakefs.repository(name, client=client).create(
        storage_namespace=f"local://datasets/{name}", default_branch="main"
    )
    yield repository
    repository.delete()


def test_cherry_pick_applies_one_commit_with_its_message(repo: lakefs.Repository) -> None:
    main = repo.branch("main")
    feature = repo.branch("feature").create(main)
    feature.object("a.txt").upload(b"a")
    picked = feature.commit("add a", metadata={"k": "v"})
    feature.object("b.txt").upload(b"b")
    feature.commit("add b")
    before = main.get_commit().id

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
            main.object("x.txt").upload(b"x")
        assert "cannot write to protected branch" in str(refused.value)

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
        repo.branch("main").object("p.txt").upload(b"p")
    assert "cannot write to protected branch" in str(protected.value)


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
