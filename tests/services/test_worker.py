"""The worker, the operator commands, health and metrics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sartiq_storage.adapters.db.models import utcnow
from sartiq_storage.core.config import load_settings
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services.context import StorageContext, build_context
from sartiq_storage.services.worker import Worker
from tests.support.cli import ENTRY_POINT
from tests.support.faulty_store import FaultyStore
from tests.support.media_service import ingest_sample

CLI = [str(ENTRY_POINT)]  # the installed `sartiq-storage`, as an operator runs it


@pytest.fixture
def context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StorageContext]:
    monkeypatch.setenv("STORAGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STORAGE_SERVICE_URL", "http://testserver")
    context = build_context(load_settings(), migrate=True)
    yield context
    context.close()


def test_worker_once_drains_dead_letters_and_runs_jobs(context: StorageContext) -> None:
    faulty = FaultyStore(context.store)
    faulty.fail_delete = lambda key: True
    context.media.deletions.store = faulty  # type: ignore[assignment]
    ingest_sample(context, 1)
    assert len(list(context.store.list("temp/"))) == 1
    faulty.fail_delete = lambda key: False
    worker = Worker(context)
    report = worker.run_once(force=True, only={"orphans", "enrich"})
    assert set(report.jobs) == {"orphans", "enrich"}
    # The failed delete became a dead letter; the pass above found it not yet due (backoff).
    assert report.deleted == 0
    assert len(list(context.store.list("temp/"))) == 1
    later = context.media.deletions.retry_dead_letters(now=utcnow() + timedelta(hours=1))
    assert len(later.deleted) == 1
    assert list(context.store.list("temp/")) == []
    again = worker.run_once(only={"orphans"})
    assert again.jobs == {}  # ran moments ago: not due


def test_health_and_metrics(context: StorageContext) -> None:
    ingest_sample(context, 2)
    Worker(context).run_once(force=True, only={"orphans"})
    with TestClient(create_app(context=context)) as client:
        health = client.get("/api/v1/storage/health").json()
        assert health["status"] == "ok"
        assert health["dead_letters"]["count"] == 0
        assert health["orphans"]["objects"] == 0
        assert health["deletions"]["done"] >= 1
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert "sartiq_storage_dead_letters 0.0" in metrics.text
        assert "sartiq_storage_deletions_total" in metrics.text
        assert "sartiq_storage_orphan_objects 0.0" in metrics.text


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STORAGE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_operator_commands(tmp_path: Path) -> None:
    scan = _cli(tmp_path, "orphans", "scan", "--json")
    assert scan.returncode == 0, scan.stderr
    assert json.loads(scan.stdout)["applied"] is False
    assert _cli(tmp_path, "heal", "--json").returncode == 0
    letters = _cli(tmp_path, "deadletters", "list", "--json")
    assert json.loads(letters.stdout) == {"items": [], "total": 0}
    refused = _cli(tmp_path, "deadletters", "purge")
    assert refused.returncode == 1
    assert "--yes" in refused.stderr
    assert _cli(tmp_path, "deadletters", "purge", "--yes").returncode == 0
    once = _cli(tmp_path, "worker", "--once", "--force", "--only", "orphans,enrich")
    assert once.returncode == 0, once.stderr
    assert set(json.loads(once.stdout.strip().splitlines()[-1])["jobs"]) == {"orphans", "enrich"}
    bad = _cli(tmp_path, "worker", "--once", "--only", "nonsense")
    assert bad.returncode == 1


def test_worker_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "STORAGE_DATA_DIR": str(tmp_path / "data"), "WORKER_POLL_SECONDS": "0.2"}
    proc = subprocess.Popen([*CLI, "worker"], stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    assert "worker running" in proc.stderr.readline()
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert "stopped" in proc.stderr.read()
