"""The facade: its settings are the ones every step reads, set at construction or later."""

from __future__ import annotations

import pytest

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.stores import MemoryStore
from sartiq_storage.core.errors import UploadTooLargeError
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.service import MediaResourceService
from sartiq_storage.testing.media import image_bytes
from tests.support.media_service import CDN, product, upload


def test_a_setting_changed_on_the_service_is_what_the_steps_read(db: Database) -> None:
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN), inline_enrichment=False)
    assert media.inline_enrichment is False
    for step in (media.attachments, media.recorder, media.ingestion):
        assert step.settings is media.settings
    data = image_bytes("png")
    media.max_file_size = len(data) - 1
    assert media.settings.max_file_size == len(data) - 1
    with pytest.raises(UploadTooLargeError):
        media.ingest(upload(store, data), product())
    media.max_file_size = len(data)
    assert media.ingest(upload(store, data), product()).created
    media.close()
