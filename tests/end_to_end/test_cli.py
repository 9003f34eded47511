"""The command line, run as a user would: a real process, real exit codes."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from sartiq_storage.core.tokens import issue_token
from sartiq_storage.testing.media import image_bytes
from sartiq_storage.testing.moto_server import free_port
from tests.support.cli import run_cli
from tests.support.http_media import ingest_over_http
from tests.support.serve_process import get_once_up, serve_process


def test_keys_explain_legacy_product() -> None:
    result = run_cli(
        "keys", "explain", "images/products/abc123/product_abc123_SKU001_d4e5f6_cover.webp"
    )
    assert result.returncode == 0, result.stderr
    for expected in (
        "abc123",
        "SKU001",
        "d4e5f6",
        "cover",
        "legacy_images",
        "permanent",
        "product",
    ):
        assert expected in result.stdout


def test_keys_explain_json() -> None:
    result = run_cli("keys", "explain", "--json", "compute/generations/task789/result_0.webp")
    fields = json.loads(result.stdout)
    assert fields["zone"] == "compute"
    assert fields["retention"] == "temporary"
    assert fields["public_url"].endswith("/compute/generations/task789/result_0.webp")


@pytest.mark.parametrize(
    "args",
    [
        ("keys", "explain", "../../etc/passwd"),
        ("get", "media/none/file.png"),
        ("put", "no-such-file.png", "media/x/file.png"),
        ("ls", "/abs"),
    ],
)
def test_errors_are_one_line_and_non_zero(args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_usage_errors_exit_2() -> None:
    result = run_cli("no-such-command")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_put_ls_get_rm_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    source.write_bytes(b"\x89PNG fake")
    assert run_cli("put", str(source), "media/abc/file.png").returncode == 0
    listed = run_cli("ls", "media/", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["key"] for r in rows] == ["media/abc/file.png"]
    out = tmp_path / "back.png"
    assert run_cli("get", "media/abc/file.png", str(out)).returncode == 0
    assert out.read_bytes() == b"\x89PNG fake"
    assert run_cli("rm", "media/abc/file.png").returncode == 0
    assert run_cli("ls", "media/", "--json").stdout.strip() == ""


def test_legacy_keys_are_never_written(tmp_path: Path) -> None:
    source = tmp_path / "x.png"
    source.write_bytes(b"x")
    result = run_cli("put", str(source), "images/products/p/product_p_S_u_cover.png")
    assert result.returncode == 1
    assert "read-only" in result.stderr


def test_config_show_masks_secrets() -> None:
    result = run_cli("config", "show", "--json", env={"AUTH_JWT_SECRET": "super-secret-value"})
    assert result.returncode == 0
    assert "super-secret-value" not in result.stdout
    assert json.loads(result.stdout)["AUTH_JWT_SECRET"] == "********"


def test_invalid_settings_are_a_clear_error() -> None:
    result = run_cli("config", "show", env={"ENVIRONMENT": "moon"})
    assert result.returncode == 1
    assert "ENVIRONMENT" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_prints_its_address_and_answers(tmp_path: Path) -> None:
    port = free_port()
    with serve_process(tmp_path, port) as proc:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("eyJ"):
                break
        printed = "".join(lines)
        assert f"http://127.0.0.1:{port}" in printed
        token = lines[-1].strip()
        health = get_once_up(f"http://127.0.0.1:{port}/healthz")
        assert health.json()["backend"] == "local"
        assert token.count(".") == 2
        assert (tmp_path / "data" / "secrets.json").exists()


def test_serve_compute_only(tmp_path: Path) -> None:
    port = free_port()
    with serve_process(tmp_path, port, "--app", "compute"):
        base = f"http://127.0.0.1:{port}"
        listed = get_once_up(f"{base}/api/v1/storage/images", attempts=150)
        assert listed.status_code == 401  # the compute storage API takes a token, reads too
        assert httpx.get(f"{base}/files/media/x/file.png", timeout=5).status_code == 404


def test_serve_rejects_unknown_app() -> None:
    result = run_cli("serve", "--app", "frontend")
    assert result.returncode == 1
    assert "--app" in result.stderr


def _served_env(tmp_path: Path, port: int, secret: str) -> dict[str, str]:
    """The settings a CLI run and a ``serve`` on ``port`` share: one data folder, one
    secret, the service's own URL."""
    return {
        "AUTH_JWT_SECRET": secret,
        "STORAGE_SERVICE_URL": f"http://127.0.0.1:{port}",
        "STORAGE_DATA_DIR": str(tmp_path / "data"),
    }


def _ingested(tmp_path: Path, env: dict[str, str], port: int, source: str) -> str:
    """``source`` (a file in ``tmp_path``) put under ``temp/`` by the CLI and ingested over
    HTTP by a running ``serve``: the canonical key of the resource made."""
    base = f"http://127.0.0.1:{port}"
    temp_key = f"temp/{uuid.uuid4().hex}_1796500000_{source}"
    assert run_cli("put", source, temp_key, cwd=tmp_path, env=env).returncode == 0
    with serve_process(tmp_path, port, env=env):
        assert get_once_up(f"{base}/healthz").status_code == 200
        auth = {"Authorization": f"Bearer {issue_token(env['AUTH_JWT_SECRET'], 'backend')}"}
        url = f"{base}/_storage/public/{temp_key}"
        resource = ingest_over_http(base, auth, url, slot="cover")
    return f"media/{resource['id']}/file.{resource['extension']}"


def test_rm_refuses_a_file_a_media_resource_still_names(tmp_path: Path) -> None:
    """``rm`` of a resource's file would leave its row pointing at nothing: refused, nothing
    deleted (the other keys named with it included); the file stays served."""
    port = free_port()
    env = _served_env(tmp_path, port, "rm-referenced-secret-of-a-sensible-length-0123")
    (tmp_path / "look.png").write_bytes(image_bytes("png", width=8, height=8))
    (tmp_path / "loose.png").write_bytes(b"\x89PNG loose")
    assert (
        run_cli("put", "loose.png", "media/loose/file.png", cwd=tmp_path, env=env).returncode == 0
    )
    canonical = _ingested(tmp_path, env, port, "look.png")
    refused = run_cli("rm", "media/loose/file.png", canonical, cwd=tmp_path, env=env)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert f"{canonical}: a media resource still names it; nothing was deleted" in refused.stderr
    listed = run_cli("ls", "media/", "--json", cwd=tmp_path, env=env).stdout.splitlines()
    assert {json.loads(line)["key"] for line in listed} >= {canonical, "media/loose/file.png"}
    assert run_cli("rm", "media/loose/file.png", cwd=tmp_path, env=env).returncode == 0


def test_put_refuses_to_replace_a_file_a_media_resource_names(tmp_path: Path) -> None:
    """``put`` over a resource's file replaced its bytes behind its row (hash, size and
    dimensions then lies; the CDN caches the old ones as immutable): refused as ``rm`` is,
    nothing written; a media/ key no row names can still be written."""
    port = free_port()
    env = _served_env(tmp_path, port, "put-referenced-secret-of-a-sensible-length-012")
    original = image_bytes("png", width=8, height=8)
    (tmp_path / "look.png").write_bytes(original)
    (tmp_path / "other.png").write_bytes(image_bytes("png", width=4, height=4))
    canonical = _ingested(tmp_path, env, port, "look.png")
    refused = run_cli("put", "other.png", canonical, cwd=tmp_path, env=env)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert f"{canonical}: a media resource still names it; nothing was written" in refused.stderr
    kept = run_cli("get", canonical, "kept.png", cwd=tmp_path, env=env)
    assert kept.returncode == 0, kept.stderr
    assert (tmp_path / "kept.png").read_bytes() == original
    unnamed = "media/00000000-0000-4000-8000-000000000000/file.png"
    assert run_cli("put", "other.png", unnamed, cwd=tmp_path, env=env).returncode == 0
