"""``lifecycle plan|apply|check|sweep`` through Typer's runner, on the embedded store and on
each selected S3 server (moto, SeaweedFS)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sartiq_storage.adapters.stores import LocalStore
from sartiq_storage.core.config import load_settings
from sartiq_storage.core.errors import ConfigurationError
from sartiq_storage.interfaces.cli.registry import lifecycle_app
from sartiq_storage.services.context import build_context
from tests.support.lifecycle_seed import Seeded, keys, local_ager, seed
from tests.support.s3_servers import S3Server

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, BaseException | None]:
    result = runner.invoke(lifecycle_app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.exception


@pytest.fixture
def embedded_seeded() -> tuple[LocalStore, Seeded]:
    context = build_context(load_settings(), migrate=True)
    store = context.store
    assert isinstance(store, LocalStore)
    seeded = seed(store, context.db, datetime.now(UTC), local_ager(store))
    context.close()
    return store, seeded


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, s3_server: S3Server, server_bucket: str) -> str:
    for name, value in {
        **s3_server.settings(server_bucket),
        "AUTH_JWT_SECRET": "cli-test-secret",
        "ENVIRONMENT": "staging",
        "WEB_APP_ORIGINS": "https://staging.sartiq.com",
    }.items():
        monkeypatch.setenv(name, value)
    return server_bucket


def test_embedded_plan_apply_check_say_sweep_enforces() -> None:
    code, out, _ = invoke("plan")
    assert code == 0
    assert "no lifecycle engine" in out
    assert "lifecycle sweep" in out
    assert "temp/" in out
    assert "permanent" in out  # media/, images/, shooting_looks/ are shown as kept
    code, out, _ = invoke("check")
    assert code == 0
    assert out.startswith("ok:")
    code, out, _ = invoke("apply")
    assert code == 0
    assert "sweep" in out
    code, out, _ = invoke("plan", "--json")
    data = json.loads(out)
    assert data["lifecycle_engine"] is False
    assert data["in_sync"] is True


def test_embedded_sweep(embedded_seeded: tuple[LocalStore, Seeded]) -> None:
    store, seeded = embedded_seeded

    code, out, _ = invoke("sweep")
    assert code == 0, out
    assert "dry run" in out
    assert "pass --apply" in out
    assert keys(store) == seeded.all

    code, out, _ = invoke("sweep", "--json")
    report = json.loads(out)
    assert report["applied"] is False
    assert report["totals"]["due"] == len(seeded.due)
    assert report["totals"]["spared"] == 1

    code, out, _ = invoke("sweep", "--apply", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["totals"]["deleted"] == len(seeded.due)
    assert keys(store) == seeded.kept | seeded.spared

    code, out, _ = invoke("sweep", "--apply", "--json")
    assert json.loads(out)["totals"]["deleted"] == 0
    assert keys(store) == seeded.kept | seeded.spared


def test_sweep_as_of_looks_ahead_but_never_deletes(
    embedded_seeded: tuple[LocalStore, Seeded],
) -> None:
    store, seeded = embedded_seeded
    code, out, _ = invoke("sweep", "--json", "--as-of", "2999-01-01T00:00:00")
    assert code == 0
    report = json.loads(out)
    assert report["now"].startswith("2999-01-01T00:00:00+00:00")
    # By then every temp, compute and derived object is due; intents have long expired.
    expiring = {k for k in seeded.all if k.startswith(("temp/", "compute/", "derived/"))}
    assert report["totals"]["due"] == len(expiring)
    assert keys(store) == seeded.all
    code, _, exc = invoke("sweep", "--apply", "--as-of", "2999-01-01T00:00:00")
    assert isinstance(exc, ValueError)
    assert "dry runs" in str(exc)
    code, _, exc = invoke("sweep", "--as-of", "tomorrow")
    assert isinstance(exc, ValueError)


def test_s3_check_apply_check(s3_env: str) -> None:
    code, out, _ = invoke("check")
    assert code == 1
    assert "drift: lifecycle: missing sartiq-expire-temp" in out
    assert "drift: cors: missing sartiq-web-app" in out

    code, out, _ = invoke("plan")
    assert code == 0
    for section in ("policy", "lifecycle rules", "CORS rules", "add"):
        assert section in out

    code, out, _ = invoke("apply")
    assert code == 0, out
    assert "applied: lifecycle: missing sartiq-expire-compute" in out

    code, out, _ = invoke("check")
    assert code == 0
    assert "matches the staging policy" in out

    code, out, _ = invoke("plan", "--json")
    data = json.loads(out)
    assert data["in_sync"] is True
    assert data["environment"] == "staging"
    assert data["lifecycle"]["foreign"] == []
    compute = next(r for r in data["policy"]["rules"] if r["prefix"] == "compute/")
    assert compute["expire_days"] == 7

    code, out, _ = invoke("apply")
    assert code == 0
    assert "already in sync" in out


def test_broken_lifecycle_file_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "lifecycle.toml"
    broken.write_text('version = 1\n[[rules]]\nprefix = "media/"\nexpire_days = 1\n', "utf-8")
    monkeypatch.setenv("STORAGE_LIFECYCLE_FILE", str(broken))
    for command in ("plan", "check", "sweep"):
        code, _, exc = invoke(command)
        assert code == 1
        assert isinstance(exc, ConfigurationError)
        assert "keeps permanently" in str(exc)
