"""The orphan scan at scale: a million keys against a million rows."""

from __future__ import annotations

import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bench.harness import Result
from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.migrate import upgrade
from sartiq_storage.adapters.db.models import MediaResource, ResourceType
from sartiq_storage.adapters.stores import MemoryStore, ObjectInfo
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.service import MediaResourceService
from sartiq_storage.services.orphans import OrphanScanner

TITLE = "Orphan scan"
DESCRIPTION = """\
`OrphanScanner.scan` over 1,000,000 `media/` keys against 1,000,000 rows in SQLite (0.1 % of
keys have no row, 0.1 % of rows no object), against just listing the same keys in the same
run. The bucket is a synthetic store that yields the keys in order from a seed (so the memory
measured is the scanner's, not a store's). Peak memory is the largest Python allocation
during a separate traced scan (`tracemalloc`), which shows whether the scan holds the key set.
"""

OLD = datetime(2020, 1, 1, tzinfo=UTC)


class SyntheticStore(MemoryStore):
    """A store whose listing is generated: sorted keys from sorted UUIDs, nothing in memory."""

    def __init__(self, ids: list[uuid.UUID], skip_every: int) -> None:
        super().__init__()
        self.ids = ids
        self.skip_every = skip_every

    def list(self, prefix: str = "", *, start_after: str | None = None) -> Iterator[ObjectInfo]:
        if prefix != "media/":
            return
        for index, resource_id in enumerate(self.ids):
            if index % self.skip_every == 7:
                continue  # a row whose object is missing
            yield ObjectInfo(f"media/{resource_id}/file.png", 1000, None, OLD)
            if index % self.skip_every == 3:
                yield ObjectInfo(f"media/{resource_id}/zzz-orphan.png", 10, None, OLD)


def _rows(db: Database, ids: list[uuid.UUID]) -> None:
    table = MediaResource.__table__
    now = datetime.now(UTC)
    with db.engine.begin() as conn:
        for start in range(0, len(ids), 20_000):
            conn.execute(
                insert(table),
                [
                    {
                        "id": rid,
                        "resource_type": ResourceType.IMAGE,
                        "storage_key": f"media/{rid}/file.png",
                        "content_hash": rid.hex,
                        "extension": "png",
                        "content_type": "image/png",
                        "file_size": 1000,
                        "protected": False,
                        "created_at": now,
                        "updated_at": now,
                        "detached_at": None,
                    }
                    for rid in ids[start : start + 20_000]
                ],
            )


def run(quick: bool) -> list[Result]:
    count = 20_000 if quick else 1_000_000
    ids = sorted((uuid.uuid4() for _ in range(count)), key=str)
    with tempfile.TemporaryDirectory(prefix="bench-orphans-") as tmp:
        db = Database.from_url(f"sqlite:///{Path(tmp) / 'scan.db'}")
        upgrade(db)
        started = time.perf_counter()
        _rows(db, ids)
        loaded = time.perf_counter() - started
        store = SyntheticStore(ids, 1000)
        media = MediaResourceService(db, store, UrlResolver("https://cdn.bench"))
        scanner = OrphanScanner(db, store, media)

        def list_only() -> float:
            start = time.perf_counter()
            for _ in store.list("media/"):
                pass
            return time.perf_counter() - start

        def scan() -> tuple[float, int]:
            start = time.perf_counter()
            report = scanner.scan(grace=timedelta(hours=1))
            return time.perf_counter() - start, report.orphan_objects

        listing = min(list_only(), list_only())
        scan_time, orphans = scan()
        expected = count // 1000
        assert orphans == expected, (orphans, expected)
        tracemalloc.start()
        scanner.scan(grace=timedelta(hours=1))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db.dispose()
    keys = count * 1.001
    return [
        Result(
            "orphans",
            f"scan {count:,} keys × {count:,} rows vs listing the keys",
            keys / scan_time,
            keys / listing,
            "keys/s",
            f"scan {scan_time:.1f} s, listing {listing:.1f} s; peak traced memory during the scan "
            f"{peak / 1e6:.1f} MB; {orphans} orphan objects and {count // 1000} missing objects "
            f"found; loading the rows took {loaded:.0f} s (not timed)",
        )
    ]
