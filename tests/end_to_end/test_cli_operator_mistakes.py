"""Mistakes operators make with the installed ``sartiq-storage``, and what they see: one line
on stderr, a non-zero exit, never a traceback and never a result that looks like success."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
from pathlib import Path

import jwt
import pytest

from sartiq_storage.testing.moto_server import free_port, moto_settings
from tests.support.cli import ENTRY_POINT, run_cli


def _embedded(tmp_path: Path) -> dict[str, str]:
    return {"STORAGE_DATA_DIR": str(tmp_path / "data"), "STORAGE_BACKEND": "local"}


def test_db_upgrade_to_an_unknown_revision_is_one_line(tmp_path: Path) -> None:
    result = run_cli("db", "upgrade", "no-such-rev", env=_embedded(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: db upgrade no-such-rev: Can't locate revision identified by 'no-such-rev'"
    ]


@pytest.mark.parametrize("ttl", ["0", "-5"])
def test_token_refuses_a_lifetime_that_is_already_over(tmp_path: Path, ttl: str) -> None:
    result = run_cli("token", "--ttl", ttl, env=_embedded(tmp_path), cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert "--ttl" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("subject", ["", "  "])
def test_token_refuses_a_subject_that_names_no_one(tmp_path: Path, subject: str) -> None:
    """The service answers 401 "token has no subject" to such a token: printing one and
    exiting 0 hands the operator a token that can never work."""
    result = run_cli("token", "--sub", subject, env=_embedded(tmp_path), cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert "--sub" in result.stderr
    assert result.stdout == ""


def test_token_ttl_is_the_token_lifetime(tmp_path: Path) -> None:
    result = run_cli("token", "--ttl", "60", env=_embedded(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60


def test_ls_refuses_a_negative_limit(tmp_path: Path) -> None:
    env = _embedded(tmp_path)
    source = tmp_path / "a.txt"
    source.write_text("a")
    for key in ("temp/a.txt", "temp/b.txt"):
        assert run_cli("put", str(source), key, env=env, cwd=tmp_path).returncode == 0
    result = run_cli("ls", "temp/", "--limit", "-1", "--json", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stdout  # not one object shown as if that were all
    assert "--limit" in result.stderr


def test_worker_once_fails_when_a_job_fails(tmp_path: Path) -> None:
    """``worker --once`` is for cron: a job that failed (the store unreachable) must say so
    in one line and exit 1, not print a traceback and exit 0."""
    env = {
        "STORAGE_DATA_DIR": str(tmp_path / "data"),
        "STORAGE_BACKEND": "s3",
        "R2_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "R2_ACCESS_KEY_ID": "key",
        "R2_SECRET_ACCESS_KEY": "secret",
        "AUTH_JWT_SECRET": "test-secret",
    }
    result = run_cli("worker", "--once", "--force", "--only", "orphans", env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    assert "error: job orphans failed: object store unavailable" in result.stderr
    report = json.loads(result.stdout)
    assert "error" in report["jobs"]["orphans"]


def test_get_that_fails_midway_leaves_no_partial_file(tmp_path: Path) -> None:
    """A download cut short (here the file-size limit, as a full disk does) is one error
    line, and neither the target nor a ``.part`` file is left behind."""
    env = {**os.environ, "COLUMNS": "200", **_embedded(tmp_path)}
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024))
    assert run_cli("put", str(source), "temp/big.bin", env=env, cwd=tmp_path).returncode == 0

    def small_files() -> None:  # in the child: writes past 1 MiB fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, 1024 * 1024))

    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        [str(ENTRY_POINT), "get", "temp/big.bin", str(out / "big.bin")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
        preexec_fn=small_files,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error:")
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("option", "value"),
    [("--cache-control", "max-age=60\nX-Evil: 1"), ("--content-type", "text/plain\r\n")],
)
def test_put_refuses_header_values_that_are_not_one_line(
    tmp_path: Path, option: str, value: str
) -> None:
    """Stored and later sent as HTTP headers: on S3 such a value made the client panic (a
    Rust backtrace and a Python traceback); on the embedded store it was stored as is."""
    env = _embedded(tmp_path)
    source = tmp_path / "a.txt"
    source.write_text("a")
    result = run_cli("put", str(source), "temp/a.txt", option, value, env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert result.stderr.strip().splitlines() == [
        f"error: {option} must be printable ASCII on one line (it is an HTTP header)"
    ]
    assert run_cli("ls", "temp/", "--json", env=env, cwd=tmp_path).stdout == ""


def test_put_part_size_zero_is_refused_not_replaced_by_the_default(tmp_path: Path) -> None:
    env = _embedded(tmp_path)
    source = tmp_path / "a.bin"
    source.write_bytes(b"x" * 1000)
    result = run_cli(
        "put", str(source), "temp/a.bin", "--threshold", "1", "--part-size", "0",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout
    assert "--part-size must be" in result.stderr
    zero = run_cli("put", str(source), "temp/a.bin", "--threshold", "0", env=env, cwd=tmp_path)
    assert zero.returncode == 2, zero.stdout
    assert "--threshold" in zero.stderr


def test_datasets_download_of_one_object_into_a_folder(tmp_path: Path) -> None:
    """``datasets download REPO REF OBJECT FOLDER`` ("File or folder to write") failed with
    ``[Errno 21] Is a directory: 'FOLDER.part' -> 'FOLDER'`` and left ``FOLDER.part``."""
    env = _embedded(tmp_path)

    def ok(*args: str) -> str:
        result = run_cli("datasets", *args, env=env, cwd=tmp_path)
        assert result.returncode == 0, f"{args}: {result.stderr}"
        return result.stdout

    source = tmp_path / "look.txt"
    source.write_text("dress")
    ok("repo", "create", "garments")
    ok("upload", "garments", "main", str(source), "--dest", "shots")
    ok("commit", "garments", "main", "-m", "first")
    folder = tmp_path / "out"
    folder.mkdir()
    ok("download", "garments", "main", "shots/look.txt", str(folder))
    assert (folder / "look.txt").read_text() == "dress"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "look.txt", "out"]

    missing = run_cli(
        "datasets", "download", "garments", "main", "shots/none.txt", str(tmp_path / "none.txt"),
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert missing.returncode == 1
    assert missing.stderr.startswith("error:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "look.txt", "out"]


def test_get_into_a_folder_and_into_a_missing_one(tmp_path: Path) -> None:
    """``get KEY FOLDER`` failed with ``[Errno 21] Is a directory: 'FOLDER.part' -> 'FOLDER'``
    (having written FOLDER.part beside it); a missing folder was a raw errno naming the
    ``.part`` file. Into a folder it now writes under the key's name, as cp does."""
    env = _embedded(tmp_path)
    source = tmp_path / "look.txt"
    source.write_text("dress")
    assert run_cli("put", str(source), "temp/shots/a.txt", env=env, cwd=tmp_path).returncode == 0
    folder = tmp_path / "out"
    folder.mkdir()
    result = run_cli("get", "temp/shots/a.txt", f"{folder}/", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (folder / "a.txt").read_text() == "dress"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "look.txt", "out"]

    missing = run_cli(
        "get", "temp/shots/a.txt", str(tmp_path / "nope" / "a.txt"), env=env, cwd=tmp_path
    )
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"error: no such folder: {tmp_path / 'nope'}"


@pytest.mark.parametrize("command", [("ls",), ("serve", "--port", "0")])
def test_a_data_dir_that_is_a_file_names_the_setting(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """``STORAGE_DATA_DIR`` naming a file was ``error: [Errno 17] File exists: '…'``: a raw
    errno that names neither the setting nor what is wrong with it."""
    (tmp_path / "data").write_text("not a folder")
    if command[0] == "serve":
        command = ("serve", "--port", str(free_port()))
    result = run_cli(*command, env=_embedded(tmp_path), cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert result.stderr.strip() == (
        f"error: STORAGE_DATA_DIR: cannot use {tmp_path / 'data'} as the data folder (it is a file)"
    )


def test_a_missing_bucket_is_named_not_reported_as_a_missing_object(
    tmp_path: Path, moto_endpoint: str
) -> None:
    """R2_BUCKET_NAME misspelt: put said ``object not found: 'temp/a.txt'`` (the file was
    right there), get the same; both now name the bucket, as ls always did."""
    env = {
        "STORAGE_DATA_DIR": str(tmp_path / "data"),
        "AUTH_JWT_SECRET": "test-secret",
        **moto_settings(moto_endpoint, "no-such-bucket"),
    }
    source = tmp_path / "a.txt"
    source.write_text("a")
    for args in (("put", str(source), "temp/a.txt"), ("get", "temp/a.txt"), ("ls",)):
        result = run_cli(*args, env=env, cwd=tmp_path)
        assert result.returncode == 1, (args, result.stdout)
        assert result.stderr.strip().splitlines() == [
            "error: object store unavailable: bucket not found"
        ], args


def test_put_of_a_folder_says_it_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "shots").mkdir()
    result = run_cli("put", "shots", "temp/shots", env=_embedded(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: shots is a folder: put takes one file"]


@pytest.mark.parametrize(
    "origins", ["localhost:3000", "http://localhost:3000/app", "https://app.example.com:port"]
)
def test_web_app_origins_that_no_browser_sends_are_refused_at_start(
    tmp_path: Path, origins: str
) -> None:
    """An origin is scheme://host[:port]: one without its scheme, or with a path, never equals
    a browser's ``Origin``, so every upload from the web app would fail CORS, silently."""
    env = {**_embedded(tmp_path), "WEB_APP_ORIGINS": f"http://localhost:3000,{origins}"}
    result = run_cli("config", "show", env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: invalid settings: WEB_APP_ORIGINS:"), line
    assert repr(origins) in line, line
    assert "scheme://host[:port]" in line, line


def test_web_app_origins_keep_a_trailing_slash_and_a_wildcard(tmp_path: Path) -> None:
    env = {**_embedded(tmp_path), "WEB_APP_ORIGINS": "https://app.example.com/, http://[::1]:3000"}
    result = run_cli("config", "show", "--json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)["WEB_APP_ORIGINS"]
    assert "https://app.example.com" in shown, shown
    assert "http://[::1]:3000" in shown, shown
    env["WEB_APP_ORIGINS"] = "*"
    assert run_cli("config", "show", env=env, cwd=tmp_path).returncode == 0
