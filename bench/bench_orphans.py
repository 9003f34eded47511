"""The orphan scan at scale: a million keys against a million rows."""

from __future__ import annotations

import os
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from bench.harness import Result
from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.migrate import upgrade
from sartiq_storage.adapters.db.models import MediaResource, ResourceType
from sartiq_storage.adapters.stores import LocalStore, MemoryStore, ObjectInfo
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.service import MediaResourceService
from sartiq_storage.services.orphans import OrphanScanner

TITLE = "Orphan scan"
DESCRIPTION = """\
`OrphanScanner.scan` over 1,000,000 `media/` keys against 1,000,000 rows in SQLite (0.1 % of
keys have no row, 0.1 % of rows no object), against the slower of its two inputs measured
alone in the same run: listing the keys, and reading the row keys in order with one plain
query. Target: the scan within 1.5× of that (ratio ≥ 0.67). The first row's bucket is a
synthetic store that yields the keys in order from a seed (so the memory measured is the
scanner's, not a store's); the second lists the embedded store's disk (100,000 objects). Peak
memory is the largest Python allocation during a separate traced scan (`tracemalloc`), which
shows whether the scan holds the key set.
"""

OLD = datetime(2020, 1, 1, tzinfo=UTC)
SKIP = 1000
"""One object in a thousand has no row (index 3), one row in a thousand no object (index 7)."""


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
                    for index, rid in enumerate(ids[start : start + 20_000], start)
                    if index % SKIP != 3  # an object with no row: an orphan
                ],
            )


def _read_rows(db: Database) -> float:
    """The floor on the database side: every ``media/`` row key in key order, one plain query."""
    key = MediaResource.storage_key
    query = select(key).where(key >= "media/", key < "media0").order_by(key)
    start = time.perf_counter()
    with db.engine.connect() as connection:
        for _ in connection.execute(query).scalars():
            pass
    return time.perf_counter() - start


def _measure(
    db: Database, store: MemoryStore | LocalStore, count: int, label: str, notes: str
) -> Result:
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
    reading = min(_read_rows(db), _read_rows(db))
    scan_time, orphans = min(scan(), scan())
    expected = count // 1000
    assert orphans == expected, (orphans, expected)
    tracemalloc.start()
    scanner.scan(grace=timedelta(hours=1))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    floor = max(listing, reading)
    keys = count * 0.999
    return Result(
        "orphans",
        label,
        keys / scan_time,
        keys / floor,
        "keys/s",
        f"scan {scan_time:.2f} s; the slower of listing the keys ({listing:.2f} s) and reading "
        f"the rows ({reading:.2f} s): {floor:.2f} s, so the scan takes "
        f"{scan_time / floor:.2f}× it (target ≤ 1.5×: ratio ≥ 0.67); peak traced memory "
        f"during the scan {peak / 1e6:.1f} MB; {orphans} orphan objects and {count // 1000} "
        f"missing objects found; {notes}",
    )


def _local_store(folder: Path, ids: list[uuid.UUID], skip_every: int) -> LocalStore:
    """The same layout on the embedded store's disk, listed for real (scandir, stat). Written
    straight into its folder layout (``{key}.`` under ``objects/``): ``put``'s fsyncs would
    take minutes here, and only the listing is measured."""
    store = LocalStore(folder)
    old = OLD.timestamp()
    for index, resource_id in enumerate(ids):
        if index % skip_every == 7:
            continue
        parent = store.objects / "media" / str(resource_id)
        parent.mkdir(parents=True)
        path = parent / "file.png."
        path.write_bytes(b"x")
        os.utime(path, (old, old))  # past the grace period
    return store


def run(quick: bool) -> list[Result]:
    count = 20_000 if quick else 1_000_000
    local_count = 5_000 if quick else 100_000
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-orphans-") as tmp:
        for n, real in ((count, False), (local_count, True)):
            ids = sorted((uuid.uuid4() for _ in range(n)), key=str)
            db = Database.from_url(f"sqlite:///{Path(tmp) / f'scan-{n}.db'}")
            upgrade(db)
            started = time.perf_counter()
            _rows(db, ids)
            loaded = time.perf_counter() - started
            if real:
                started = time.perf_counter()
                store: MemoryStore | LocalStore = _local_store(Path(tmp) / "store", ids, SKIP)
                made = time.perf_counter() - started
                label = f"scan {n:,} keys on the embedded store × {n:,} rows"
                notes = f"writing the objects took {made:.0f} s and the rows {loaded:.0f} s"
            else:
                store = SyntheticStore(ids, SKIP)
                label = f"scan {n:,} keys × {n:,} rows vs the slower of listing and reading"
                notes = f"a generated listing; loading the rows took {loaded:.0f} s (not timed)"
            results.append(_measure(db, store, n, label, notes))
            db.dispose()
    return results
