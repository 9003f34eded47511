"""Object bytes this API carried itself: what the pre-signed path is meant to keep at zero.

Counted where the lakeFS object routes read an upload's body and stream a download; exported
on ``/metrics`` as ``sartiq_storage_lakefs_object_bytes_{received,sent}_total``. Tests read it
to show that pre-signed reads and writes move no object bytes through the server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator


class ObjectTraffic:
    """Two process-wide counters, safe to bump from the event loop and worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received = 0
        self.sent = 0

    def add_received(self, count: int) -> None:
        with self._lock:
            self.received += count

    def add_sent(self, count: int) -> None:
        with self._lock:
            self.sent += count

    def counting(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """``chunks`` as they go out, each counted as sent."""
        for chunk in chunks:
            self.add_sent(len(chunk))
            yield chunk


TRAFFIC = ObjectTraffic()
