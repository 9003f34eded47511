"""Every step of ingest, relocation, outbox delete and scan, failed three ways, loses nothing.

The three ways: an exception at the step; a hard kill of the process there (``os._exit`` in
a child process, ``crash_child.py``); and a store call that was applied but whose answer was
lost. Recovery is what production does: re-drive the ingest, drain the outbox, and one orphan
scan with the clock past the grace period. Then:

* no row points at a missing object;
* the upload became exactly one resource, and an acknowledged ingest's id is the one a
  retry returns; an unacknowledged one is completed by the retry, with one id from then on;
* nothing is left under ``temp/``, and no object under ``media/`` lacks a row.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sartiq_storage.adapters.db.migrate import upgrade
from sartiq_storage.adapters.stores import DeleteFailure, ObjectInfo, ObjectStore, PutResult
from sartiq_storage.core.errors import StoreUnavailableError
from sartiq_storage.services import failpoints
from sartiq_storage.services.media.service import AttachTo, MediaInput
from sartiq_storage.testing.media import image_bytes
from tests.hardening import crash_child
from tests.hardening.crash_child import ENTITY, GRACE, KILLED, open_service, run
from tests.hardening.media_invariants import check_media_invariants

REPO = Path(__file__).resolve().parents[2]
INGEST_POINTS = [
    "ingest.headed",
    "ingest.hashed",
    "ingest.copied",
    "ingest.verified",
    "ingest.before_commit",
    "ingest.committed",
    "outbox.before_delete",
    "outbox.after_delete",
]
DRAIN_POINTS = ["outbox.before_delete", "outbox.after_delete"]
SCAN_POINTS = [
    "scan.before_schedule",
    "scan.scheduled",
    "scan.before_unattached_delete",
    "outbox.before_delete",
    "outbox.after_delete",
]
CASES = (
    [("ingest", p) for p in INGEST_POINTS]
    + [("drain", p) for p in DRAIN_POINTS]
    + [("scan", p) for p in SCAN_POINTS]
)


def prepare(root: Path, op: str) -> None:
    """An upload waiting to be ingested; for drain and scan, work already half done."""
    db, store, media = open_service(root, drain_after_commit=op != "drain")
    upgrade(db)
    key = f"temp/{uuid.uuid4().hex}_1706000000_look.jpg"
    store.put(key, image_bytes("jpg", 48, 32, (200, 40, 90)), content_type="image/jpeg")
    (root / "upload").write_text(key)
    if op == "drain":  # ingested, its source's deletion still waiting in the outbox
        media.ingest(
            MediaInput(url=f"{crash_child.CDN}/{key}"),
            AttachTo("PRODUCT", ENTITY, "cover_image"),
        )
    if op == "scan":  # ingested, plus something for each of the scan's two jobs
        run(root, "ingest")
        store.put(f"media/{uuid.uuid4()}/file.jpg", image_bytes("jpg", 8, 8, (1, 1, 1)))
        other = f"temp/{uuid.uuid4().hex}_1706000000_old.jpg"
        store.put(other, image_bytes("jpg", 8, 8, (9, 9, 9)), content_type="image/jpeg")
        gone = media.ingest(
            MediaInput(url=f"{crash_child.CDN}/{other}"), AttachTo("LOOK", uuid.uuid4(), "x")
        )
        assert gone.attachment is not None
        media.detach(gone.attachment.id)
    media.close()
    db.dispose()


def recover_and_check(root: Path, acknowledged: uuid.UUID | None) -> None:
    retried = run(root, "ingest")
    assert isinstance(retried, uuid.UUID)
    if acknowledged is not None:
        assert retried == acknowledged
    assert run(root, "ingest") == retried  # one id from then on
    run(root, "drain")
    run(root, "scan", later=timedelta(hours=1))
    run(root, "drain", later=GRACE + timedelta(hours=2))
    db, store, media = open_service(root)
    rows = check_media_invariants(db, store)
    assert retried in rows
    assert [info.key for info in store.list("temp/")] == []
    media.close()
    db.dispose()


@pytest.mark.parametrize(("op", "point"), CASES)
def test_exception(tmp_path: Path, op: str, point: str) -> None:
    prepare(tmp_path, op)
    acknowledged = None
    with failpoints.armed(point):
        try:
            result = run(tmp_path, op)
            if op == "ingest":
                acknowledged = result
        except failpoints.InjectedFailure:
            pass
    recover_and_check(tmp_path, acknowledged if isinstance(acknowledged, uuid.UUID) else None)


@pytest.mark.parametrize(("op", "point"), CASES)
def test_hard_kill(tmp_path: Path, op: str, point: str) -> None:
    prepare(tmp_path, op)
    child = subprocess.run(
        [sys.executable, "-m", "tests.hardening.crash_child", str(tmp_path), op, point],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode in (0, KILLED), child.stderr
    acknowledged = None
    if child.returncode == 0 and op == "ingest":
        acknowledged = uuid.UUID(child.stdout.strip().splitlines()[-1])
    recover_and_check(tmp_path, acknowledged)


class LostAnswers:
    """A real store whose chosen calls are applied, then answer with a lost connection."""

    def __init__(self, inner: ObjectStore, lose: Iterable[str]) -> None:
        self.inner = inner
        self.lose = set(lose)
        self.lost: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _lost(self, name: str) -> None:
        if name in self.lose:
            self.lose.discard(name)  # once: the retry gets through
            self.lost.append(name)
            raise StoreUnavailableError(f"{name} was applied, but its answer was lost")

    def copy(self, source: str, destination: str, **options: Any) -> ObjectInfo:
        info = self.inner.copy(source, destination, **options)
        self._lost("copy")
        return info

    def put(self, key: str, body: Any, **options: Any) -> PutResult:
        result = self.inner.put(key, body, **options)
        self._lost("put")
        return result

    def delete_many(self, keys: Iterable[str]) -> list[DeleteFailure]:
        failures = self.inner.delete_many(list(keys))
        self._lost("delete_many")
        return failures


@pytest.mark.parametrize(
    ("op", "call"),
    [
        ("ingest", "copy"),
        ("ingest", "delete_many"),
        ("drain", "delete_many"),
        ("scan", "delete_many"),
    ],
)
def test_applied_but_answer_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, op: str, call: str
) -> None:
    prepare(tmp_path, op)
    real_open = crash_child.LocalStore
    wrapped: list[LostAnswers] = []

    def lossy(root: Path) -> Any:
        store = LostAnswers(real_open(root), [call])
        wrapped.append(store)
        return store

    monkeypatch.setattr(crash_child, "LocalStore", lossy)
    acknowledged = None
    try:
        result = run(tmp_path, op)
        if op == "ingest" and isinstance(result, uuid.UUID):
            acknowledged = result
    except StoreUnavailableError:
        pass
    assert wrapped[0].lost == [call]
    monkeypatch.setattr(crash_child, "LocalStore", real_open)
    recover_and_check(tmp_path, acknowledged)
