"""A process that dies at a failpoint: ``python -m tests.hardening.crash_child ROOT OP POINT``.

The service runs over ``ROOT/store`` (local disk) and ``ROOT/db.sqlite``, as the embedded
default does, so whatever the process left behind is there for the parent to recover.
``OP`` is ``ingest`` (of the key in ``ROOT/upload``), ``drain`` (the outbox, clock past the
lease) or ``scan`` (the orphan scan, clock past the grace period). The process exits with
:data:`KILLED` at the point, or 0 if the point was never reached.
"""

from __future__ import annotations

import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import utcnow
from sartiq_storage.adapters.stores import LocalStore
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services import failpoints
from sartiq_storage.services.media.service import AttachTo, MediaInput, MediaResourceService
from sartiq_storage.services.orphans import OrphanScanner

KILLED = 17
CDN = "https://cdn.crash"
GRACE = timedelta(hours=24)
ENTITY = uuid.UUID("00000000-0000-0000-0000-00000000c0de")


def open_service(
    root: Path, **options: object
) -> tuple[Database, LocalStore, MediaResourceService]:
    db = Database.from_url(f"sqlite:///{root / 'db.sqlite'}")
    store = LocalStore(root / "store")
    return db, store, MediaResourceService(db, store, UrlResolver(CDN), **options)  # type: ignore[arg-type]


def run(root: Path, op: str, *, later: timedelta = timedelta(0)) -> object:
    db, store, media = open_service(root)
    try:
        if op == "ingest":
            key = (root / "upload").read_text()
            target = AttachTo("PRODUCT", ENTITY, "cover_image")
            return media.ingest(MediaInput(url=f"{CDN}/{key}"), target).resource.id
        if op == "drain":
            return media.deletions.run_once(now=utcnow() + timedelta(minutes=10) + later)
        if op == "scan":
            scanner = OrphanScanner(db, store, media)
            return scanner.scan(grace=GRACE, apply=True, now=utcnow() + GRACE + later)
        raise ValueError(op)
    finally:
        media.close()
        db.dispose()


def main() -> None:
    root, op, point = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    failpoints.arm(point, lambda: os._exit(KILLED))
    result = run(root, op)
    print(result)


if __name__ == "__main__":
    main()
