"""``GET /api/v1/storage/health`` and ``/metrics``: ok, degraded (with the reasons) or down."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sartiq_storage.adapters.db.models import MediaResource, utcnow
from sartiq_storage.adapters.stores import MemoryStore, ObjectInfo
from sartiq_storage.core.config import load_settings
from sartiq_storage.core.lifecycle import policy_for
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services import lifecycle, maintenance
from sartiq_storage.services.context import StorageContext, build_context
from sartiq_storage.services.health import StoreProbe
from sartiq_storage.services.media.deletions import MAX_AUTOMATIC_ATTEMPTS
from sartiq_storage.services.worker import Worker
from tests.support.dead_letters import dead_letter
from tests.support.media_service import ingest_sample


@pytest.fixture
def context(tmp_path: Path) -> Iterator[StorageContext]:
    settings = load_settings(STORAGE_DATA_DIR=tmp_path / "data", _env_file=None)
    context = build_context(settings, migrate=True)
    yield context
    context.close()


def _health(client: TestClient) -> dict[str, Any]:
    answer = client.get("/api/v1/storage/health")
    assert answer.status_code == (503 if answer.json()["status"] == "down" else 200)
    return answer.json()  # type: ignore[no-any-return]


def test_degraded_names_each_reason(context: StorageContext) -> None:
    with TestClient(create_app(context=context)) as client:
        assert _health(client)["status"] == "ok"
        assert _health(client)["reasons"] == []

        # A row whose object is gone, as the orphan scan records it.
        ingest_sample(context, 3)
        with context.db.session() as session:
            key = session.scalars(select(MediaResource.storage_key)).one()
        context.store.delete(key)
        Worker(context).run_once(force=True, only={"orphans"})
        health = _health(client)
        assert health["status"] == "degraded"
        assert health["reasons"] == ["1 rows pointed at a missing object at the last orphan scan"]
        assert 'sartiq_storage_health_status{status="degraded"} 1.0' in client.get("/metrics").text

        # A dead letter past its automatic retries.
        dead_letter(context, attempts=MAX_AUTOMATIC_ATTEMPTS)
        assert "1 dead letters are past their automatic retries" in _health(client)["reasons"]

        # Objects past their retention still stored after the last sweep (a dry run here).
        context.store.put("temp/old_1_a.png", b"x", content_type="image/png")
        started = utcnow()
        later = started + timedelta(days=30)
        policy = policy_for(context.settings)
        report = lifecycle.sweep(context.store, context.db, policy, now=later, apply=False)
        maintenance.record(context.db, "sweep", report.as_dict(), applied=False, started_at=started)
        health = _health(client)
        assert health["ttl_breaches"] == 1
        assert health["temp_past_retention"] == 1
        assert (
            "1 objects past their retention were still stored after the last sweep"
            in health["reasons"]
        )
        assert "sartiq_storage_ttl_breaches 1.0" in client.get("/metrics").text


def test_down_when_the_database_does_not_answer(context: StorageContext, tmp_path: Path) -> None:
    with TestClient(create_app(context=context)) as client:
        assert _health(client)["database"] == {"up": True, "reason": None}
        context.db.dispose()
        database = tmp_path / "data" / "storage.db"
        database.rename(database.with_suffix(".moved"))
        database.mkdir()  # where the file was, nothing SQLite can open
        health = _health(client)
        assert health["status"] == "down"
        assert health["reasons"] == ["database unreachable"]
        assert health["dead_letters"]["count"] is None
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert "sartiq_storage_database_up 0.0" in metrics.text
        assert 'sartiq_storage_health_status{status="down"} 1.0' in metrics.text
        # A request that needs the database: one short 503 too, the cause in the log only.
        token = issue_token(context.jwt_secret, "ops")
        tags = client.get("/api/v1/tags/", headers={"Authorization": f"Bearer {token}"})
        assert tags.status_code == 503
        assert tags.json() == {
            "detail": "database unavailable",
            "request_id": tags.headers["x-request-id"],
        }


class _HeldStore(MemoryStore):
    """A store whose HEAD waits until the test lets it answer (a store that hangs)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def head(self, key: str) -> ObjectInfo:
        self.release.wait()
        return super().head(key)


def test_the_store_probe_is_bounded_single_flight_and_remembered() -> None:
    now = [0.0]
    store = _HeldStore()
    probe = StoreProbe(store, ttl=5.0, timeout=0.2, clock=lambda: now[0])
    first = probe.check()
    assert (first.up, first.reason) == (False, "object store did not answer within 0.2 s")
    now[0] = 10.0  # remembered result expired, the first HEAD still hanging
    assert probe.check().up is False
    assert probe.probes == 1  # never a second HEAD on top of a hanging one
    store.release.set()
    now[0] = 20.0
    assert probe.check().up is True  # the HEAD answered (a 404: the store is up)
    probed = probe.probes
    now[0] = 21.0
    for _ in range(100):
        assert probe.check().up is True
    assert probe.probes == probed  # remembered for ttl seconds: cheap under load
