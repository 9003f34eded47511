"""What must hold between the media rows and the bucket once recovery has run.

Shared by the crash tests (one process killed at each step) and the several-hosts test
(three ``serve`` and two ``worker`` processes, one of each killed):

* no row points at a missing object;
* every object under ``media/`` has a row (no orphan left once the orphan scan has run).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaResource
from sartiq_storage.adapters.stores import ObjectStore


def check_media_invariants(db: Database, store: ObjectStore) -> dict[uuid.UUID, str]:
    """Assert both invariants; return every resource's storage key by id."""
    rows = media_rows(db)
    for key in rows.values():
        assert store.exists(key), f"a row points at the missing object {key}"
    unreferenced = {info.key for info in store.list("media/")} - set(rows.values())
    assert not unreferenced, f"unreferenced media/ objects: {sorted(unreferenced)[:5]}"
    return rows


def media_rows(db: Database) -> dict[uuid.UUID, str]:
    """Every resource's storage key, by id."""
    with db.session() as session:
        return dict(session.execute(select(MediaResource.id, MediaResource.storage_key)).all())
