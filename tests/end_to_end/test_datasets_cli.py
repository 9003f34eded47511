"""``sartiq-storage datasets``, run as an operator would: real processes, real exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_cli


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"STORAGE_DATA_DIR": str(tmp_path / "data"), "STORAGE_BACKEND": "local"}


def ok(env: dict[str, str], *args: str) -> str:
    result = run_cli("datasets", *args, env=env)
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout


def test_branch_commit_diff_merge_tag_and_rollback(env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "shots"
    (folder / "labels").mkdir(parents=True)
    (folder / "img-001.jpg").write_bytes(b"\xff\xd8\xff jpeg one")
    (folder / "labels" / "img-001.json").write_text('{"label": "dress"}')

    ok(env, "repo", "create", "garments")
    assert "garments" in ok(env, "repo", "list")
    assert "staged 2 object(s)" in ok(env, "upload", "garments", "main", str(folder))
    first = json.loads(ok(env, "commit", "garments", "main", "-m", "first shots", "--json"))
    assert first["message"] == "first shots"

    ok(env, "branch", "create", "garments", "relabel", "--source", "main")
    relabel = tmp_path / "img-001.json"
    relabel.write_text('{"label": "skirt"}')
    ok(env, "upload", "garments", "relabel", str(relabel), "--dest", "labels")
    uncommitted = json.loads(ok(env, "diff", "garments", "relabel", "--json"))
    assert [(d["type"], d["path"]) for d in uncommitted] == [("changed", "labels/img-001.json")]
    ok(env, "commit", "garments", "relabel", "-m", "relabel", "--meta", "who=anna")

    between = json.loads(ok(env, "diff", "garments", "main", "relabel", "--json"))
    assert [(d["type"], d["path"]) for d in between] == [("changed", "labels/img-001.json")]
    ok(env, "merge", "garments", "relabel", "main")
    assert ok(env, "cat", "garments", "main", "labels/img-001.json") == '{"label": "skirt"}'
    assert ok(env, "cat", "garments", "main~1", "labels/img-001.json") == '{"label": "dress"}'

    log = json.loads(ok(env, "log", "garments", "main", "--json"))
    assert [c["message"] for c in log][-1] == "Repository created"
    assert len(log[0]["parents"]) == 2  # the merge commit
    only_labels = json.loads(
        ok(env, "log", "garments", "main", "--path", "img-001.jpg", "--json", "--first-parent")
    )
    assert [c["message"] for c in only_labels] == ["first shots"]

    ok(env, "tag", "create", "garments", "eval-v1", first["id"])
    assert "eval-v1" in ok(env, "tag", "list", "garments")

    ok(env, "reset", "garments", "main", "--to", "eval-v1")
    assert ok(env, "cat", "garments", "main", "labels/img-001.json") == '{"label": "dress"}'
    moves = json.loads(ok(env, "reflog", "garments", "main", "--json"))
    assert moves[0]["new_commit_id"] == first["id"]

    out = tmp_path / "out"
    ok(env, "download", "garments", "relabel", "labels/", str(out))
    assert (out / "img-001.json").read_text() == '{"label": "skirt"}'
    listing = json.loads(ok(env, "ls", "garments", "main", "--recursive", "--json"))
    assert {row["path"] for row in listing} == {"img-001.jpg", "labels/img-001.json"}
    report = json.loads(ok(env, "gc", "garments", "--json"))
    assert report["dry_run"] is True


def test_errors_are_one_line_and_exit_non_zero(env: dict[str, str]) -> None:
    bad_name = run_cli("datasets", "repo", "create", "Bad_Name", env=env)
    assert bad_name.returncode == 1
    assert "Traceback" not in bad_name.stderr
    assert len(bad_name.stderr.strip().splitlines()) == 1
    missing = run_cli("datasets", "log", "no-such-repo", "main", env=env)
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr
    ok(env, "repo", "create", "conflicts")
    dirty = run_cli("datasets", "commit", "conflicts", "main", "-m", "nothing", env=env)
    assert dirty.returncode == 1  # no changes
    assert "Traceback" not in dirty.stderr
