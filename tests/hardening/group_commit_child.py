"""A process that dies inside a group commit: ``python -m tests.hardening.group_commit_child
DATABASE_URL GROUPS``.

Sixteen threads presign at once through the real :class:`UploadService` (its intents go
through the group committer). Before each group's commit the child writes the group's keys to
stderr as one JSON line; at the ``GROUPS``-th group it exits with :data:`KILLED` inside that
transaction. Each presign answered writes its key to stdout. The parent then checks what the
database kept against what was answered.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.stores import MemoryStore
from sartiq_storage.core.signing import UrlSigner
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.uploads import UploadService

KILLED = 17
CALLERS = 16


def main() -> None:
    url, groups = sys.argv[1], int(sys.argv[2])
    db = Database.from_url(url)
    store = MemoryStore(signer=UrlSigner("crash-" + "s" * 40, "http://127.0.0.1:1"))
    uploads = UploadService(db, store, UrlResolver("https://cdn.crash"))
    seen = 0
    lock = threading.Lock()

    def before_commit(rows: list[dict[str, Any]]) -> None:
        nonlocal seen
        with lock:
            seen += 1
            sys.stderr.write(json.dumps([r["storage_key"] for r in rows]) + "\n")
            sys.stderr.flush()
            if seen == groups:
                os._exit(KILLED)

    uploads.intents.before_commit = before_commit
    start = threading.Barrier(CALLERS)

    def caller(n: int) -> None:
        start.wait()
        for i in range(20):
            upload = uploads.presign(f"c{n}-{i}.jpg", "image/jpeg", 100, requester="crash")
            sys.stdout.write(upload.storage_key + "\n")
            sys.stdout.flush()

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
