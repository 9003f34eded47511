"""The multipart upload service on the embedded store: intents, caps, and the sweep's share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sartiq_storage.adapters.db.models import UploadIntent
from sartiq_storage.adapters.stores import LocalStore
from sartiq_storage.core.errors import (
    InvalidUploadError,
    UploadNotFoundError,
    UploadNotYoursError,
    UploadTooLargeError,
)
from sartiq_storage.core.lifecycle import policy_for
from sartiq_storage.core.multipart import MIB, MIN_PART_BYTES
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.lifecycle import sweep
from tests.support.asgi import make_context


@pytest.fixture
def context(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> StorageContext:
    return make_context(monkeypatch, tmp_path)


def test_an_upload_records_its_intent_and_belongs_to_its_caller(context: StorageContext) -> None:
    service = context.multipart
    upload = service.create("clip.mp4", "video/mp4", 12 * MIB, requester="alice")
    with context.db.session() as session:
        intent = session.query(UploadIntent).filter_by(storage_key=upload.storage_key).one()
        assert intent.requester == "alice"
        assert intent.declared_size == 12 * MIB
        assert intent.expires_at - intent.created_at == timedelta(hours=24)
    with pytest.raises(UploadNotYoursError):
        service.list_parts(upload.storage_key, upload.upload_id, requester="bob")
    service.abort(upload.storage_key, upload.upload_id, requester="alice")
    with pytest.raises(UploadNotFoundError):
        service.list_parts(upload.storage_key, upload.upload_id, requester="alice")
    context.close()


def test_caps_by_kind(context: StorageContext) -> None:
    service = context.multipart
    with pytest.raises(UploadTooLargeError, match="image"):
        service.create("big.png", "image/png", 3 * 1024**3, requester="alice")
    with pytest.raises(UploadTooLargeError, match="video"):
        service.create("big.mp4", "video/mp4", 6 * 1024**3, requester="alice")
    # Undeclared: checked on the parts' real sum, and the refused upload is aborted.
    upload = service.create("pic.png", "image/png", None, requester="alice")
    store = context.store
    parts = [
        store.upload_part(upload.storage_key, upload.upload_id, n, b"\0" * (26 * MIB))
        for n in (1, 2)
    ]
    with pytest.raises(UploadTooLargeError):
        service.complete(
            upload.storage_key,
            upload.upload_id,
            [(p.part_number, p.etag) for p in parts],
            requester="alice",
        )
    with pytest.raises(UploadNotFoundError):
        store.list_parts(upload.storage_key, upload.upload_id)
    with pytest.raises(InvalidUploadError):
        service.sign_parts("media/x/file.mp4", upload.upload_id, [1], requester="alice")
    context.close()


def test_the_embedded_sweep_aborts_day_old_uploads(context: StorageContext) -> None:
    store = context.store
    assert isinstance(store, LocalStore)
    upload = context.multipart.create("clip.mp4", "video/mp4", None, requester="alice")
    store.upload_part(upload.storage_key, upload.upload_id, 1, b"\0" * MIN_PART_BYTES)
    policy = policy_for(context.settings)
    today = sweep(store, context.db, policy, now=datetime.now(UTC), apply=True)
    assert today.aborted_uploads == 0
    later = datetime.now(UTC) + timedelta(days=1, minutes=1)
    dry = sweep(store, context.db, policy, now=later)
    assert dry.aborted_uploads == 1
    assert store.list_parts(upload.storage_key, upload.upload_id)
    done = sweep(store, context.db, policy, now=later, apply=True)
    assert done.as_dict()["aborted_uploads"] == 1
    with pytest.raises(UploadNotFoundError):
        store.list_parts(upload.storage_key, upload.upload_id)
    context.close()
