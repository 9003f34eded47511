"""What an operator meets first, through the installed ``sartiq-storage`` entry point with
its output piped (not a terminal): exit codes, JSON shapes, whole keys, refusals."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sartiq_storage.adapters.db.models import MediaDeletionDeadLetter, MediaResource
from sartiq_storage.adapters.stores import LocalStore
from sartiq_storage.core.config import load_settings
from sartiq_storage.core.keys import parse_key
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services.context import StorageContext, build_context
from sartiq_storage.testing.media import image_bytes
from tests.support.cli import sartiq
from tests.support.dead_letters import add_dead_letter

LONG = "media/" + "a-very-long-folder-name-" * 4 + "/" + "file-with-a-long-name-" * 3 + ".png"


@pytest.fixture
def context() -> Iterator[StorageContext]:
    """The embedded default under the test's working directory (where the CLI runs too)."""
    context = build_context(load_settings(), migrate=True)
    yield context
    context.close()


def stuck_dead_letter(context: StorageContext) -> tuple[str, Path]:
    """A dead letter whose deletion really fails: a folder sits where the object file goes."""
    key = f"media/{uuid.uuid4()}/file.png"
    store = context.store
    assert isinstance(store, LocalStore)
    blocker = store.objects / f"{key}."
    blocker.mkdir(parents=True)
    (blocker / "inside").write_bytes(b"x")
    add_dead_letter(context.db, key, attempts=3, error="first failure", due_in=timedelta(hours=1))
    return key, blocker


def test_deadletters_retry_exits_1_while_letters_fail_and_json_matches_http(
    context: StorageContext, tmp_path: Path
) -> None:
    key, blocker = stuck_dead_letter(context)

    retried = sartiq("deadletters", "retry")
    assert retried.returncode == 1, retried.stdout + retried.stderr
    assert "still failing 1" in retried.stdout
    assert key in retried.stderr
    assert "Traceback" not in retried.stderr
    as_json = sartiq("deadletters", "retry", "--json")
    assert as_json.returncode == 1
    assert list(json.loads(as_json.stdout)["failed"]) == [key]

    listed = sartiq("deadletters", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    cli = json.loads(listed.stdout)
    with TestClient(create_app(context=context)) as client:
        token = issue_token(context.jwt_secret, "ops")
        http = client.get(
            "/api/v1/operations/dead-letters", headers={"Authorization": f"Bearer {token}"}
        ).json()
    assert cli == http
    assert cli["total"] == 1
    assert cli["items"][0]["attempts"] == 5  # an integer, as over HTTP (3 + two retries)
    assert cli["items"][0]["storage_key"] == key

    for inside in blocker.iterdir():
        inside.unlink()
    blocker.rmdir()
    fixed = sartiq("deadletters", "retry")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "deleted 1, still failing 0" in fixed.stdout
    assert json.loads(sartiq("deadletters", "list", "--json").stdout)["total"] == 0


def test_piped_tables_show_whole_keys(context: StorageContext, tmp_path: Path) -> None:
    assert len(LONG) > 120
    source = tmp_path / "photo.png"
    source.write_bytes(b"\x89PNG long")
    assert sartiq("put", str(source), LONG).returncode == 0
    listed = sartiq("ls", "media/")
    assert listed.returncode == 0, listed.stderr
    assert LONG in listed.stdout

    key, _blocker = stuck_dead_letter(context)
    with context.db.session() as session:
        letter = session.query(MediaDeletionDeadLetter).one()
        letter.error_message = "a long error message " * 8
    letters = sartiq("deadletters", "list")
    assert letters.returncode == 0, letters.stderr
    assert key in letters.stdout
    assert "a long error message " * 8 in letters.stdout


@pytest.mark.parametrize(
    "key",
    [
        "images/products/abc123/product_abc123_SKU001_d4e5f6_cover.webp",
        "shooting_looks/look1/outfit_look1_u3.jpg",
    ],
)
def test_rm_refuses_legacy_keys_and_deletes_nothing(
    context: StorageContext, tmp_path: Path, key: str
) -> None:
    context.store.put(key, b"legacy bytes", content_type="image/webp")
    context.store.put("media/x/file.png", b"new", content_type="image/png")
    removed = sartiq("rm", "media/x/file.png", key)
    assert removed.returncode == 1
    assert "read-only" in removed.stderr
    assert len(removed.stderr.strip().splitlines()) == 1
    assert {i.key for i in context.store.list("")} == {key, "media/x/file.png"}


def test_keys_build_round_trips_through_explain(tmp_path: Path) -> None:
    rid = "5f0c8a52-9d2e-4b8a-9a8e-0c8f6e1d2a3b"
    built = sartiq("keys", "build", "media", "--id", rid, "--ext", "JPEG", "--json")
    assert built.returncode == 0, built.stderr
    fields = json.loads(built.stdout)
    assert fields["key"] == f"media/{rid}/file.jpg"
    assert fields["zone"] == "media"
    explained = json.loads(sartiq("keys", "explain", "--json", fields["key"]).stdout)
    assert explained == fields

    temp = json.loads(
        sartiq(
            "keys",
            "build",
            "temp",
            "--filename",
            "My Photo.JPG",
            "--timestamp",
            "1700000000",
            "--json",
        ).stdout
    )
    assert temp["zone"] == "temp"
    assert temp["key"].endswith("_1700000000_My-Photo.jpg")
    assert parse_key(temp["key"]).as_dict()["safe_filename"] == "My-Photo.jpg"

    compute = sartiq(
        "keys",
        "build",
        "compute",
        "--task-type",
        "generation",
        "--task-id",
        "T",
        "--index",
        "0",
        "--json",
    )
    assert json.loads(compute.stdout)["key"] == "compute/generations/T/result_0.webp"

    plain = sartiq("keys", "build", "compute", "--task-type", "generation", "--task-id", "T")
    assert "compute/generations/T/result_0.webp" in plain.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("images", "--ext", "jpg"), "never written"),
        (("media",), "--ext"),
        (("media", "--ext", "jpg", "--filename", "x.jpg"), "--filename"),
        (("moon",), "media, temp or compute"),
    ],
)
def test_keys_build_refusals_are_one_line(args: tuple[str, ...], message: str) -> None:
    result = sartiq("keys", "build", *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error:")


def test_legacy_migrate_names_every_key_it_does_not_attach(context: StorageContext) -> None:
    seed_key = "images/products/abc123/product_abc123_SKU001_d4e5f6_cover.webp"
    context.store.put(seed_key, image_bytes("webp", seed=7), content_type="image/webp")
    context.store.put("images/temp/temp_f6.png", image_bytes(seed=8), content_type="image/png")

    dry = sartiq("legacy", "migrate")
    assert dry.returncode == 0, dry.stderr
    assert f"not attached: {seed_key}: PRODUCT id 'abc123' is not a UUID" in dry.stdout
    assert "skipped: images/temp/temp_f6.png: legacy_temp keys name no entity" in dry.stdout

    applied = sartiq("legacy", "migrate", "--apply", "--json")
    assert applied.returncode == 0, applied.stderr
    report = json.loads(applied.stdout)
    assert (report["registered"], report["unattached"], report["skipped"]) == (1, 1, 1)
    with context.db.session() as session:
        resource = session.scalars(select(MediaResource)).one()
    assert resource.storage_key == seed_key
    assert resource.protected


def test_datasets_dates_and_head_refs(tmp_path: Path) -> None:
    def ok(*args: str) -> str:
        result = sartiq("datasets", *args)
        assert result.returncode == 0, f"{args}: {result.stderr}"
        return result.stdout

    ok("repo", "create", "garments")
    listed = ok("repo", "list")
    assert re.search(r"20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC", listed), listed
    assert isinstance(json.loads(ok("repo", "list", "--json"))[0]["creation_date"], int)

    label = tmp_path / "label.json"
    for text in ("dress", "skirt"):
        label.write_text(text)
        ok("upload", "garments", "main", str(label))
        ok("commit", "garments", "main", "-m", text)
    assert ok("cat", "garments", "HEAD", "label.json") == "skirt"
    assert ok("cat", "garments", "HEAD~1", "label.json") == "dress"
    assert ok("cat", "garments", "main^", "label.json") == "dress"
    assert ok("cat", "garments", "HEAD@", "label.json") == "skirt"

    assert "reverted HEAD on main" in ok("revert", "garments", "main", "HEAD")
    assert ok("cat", "garments", "main", "label.json") == "dress"
    log = json.loads(ok("log", "garments", "HEAD", "--json"))
    assert [c["message"] for c in log][:3] == [log[0]["message"], "skirt", "dress"]
    ok("reset", "garments", "main", "--to", "HEAD~2")
    assert ok("cat", "garments", "main", "label.json") == "dress"
    assert json.loads(ok("log", "garments", "main", "--json"))[0]["message"] == "dress"
    ok("repo", "create", "shots", "--default-branch", "trunk")
    assert "Repository created" in ok("log", "shots")  # no ref: the default branch, not main
    assert "created branch dev" in ok("branch", "create", "shots", "dev")  # from trunk
    missing = sartiq("datasets", "cat", "garments", "nope~1", "label.json")
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr
