"""Concurrent single ingests recorded together, through the batch recorder of ``ingest_all``.

The platform calls ``POST /ingest`` once per upload, many at once. Each call recorded
alone is its own write transaction and its own post-commit delete; SQLite runs one writer at
a time, so under load the callers queue for the lock anyway. Here they queue for a group
instead: whoever arrives while no group is being written leads, writing every ingest
waiting at that moment (its own included) with :meth:`Recorder.record` in one transaction;
those arriving meanwhile wait, and the first of them leads the next group. No timer: a
caller alone is recorded at once, in a transaction of its own, as before; callers group
only while another transaction is being written, which is when they would have waited for
the database's write lock anyway. Each caller is answered after the transaction
holding its rows has committed.

A group that fails as a whole (a conflict, a hit gone meanwhile, a constraint, an outage)
is not answered with that error: each of its callers records alone, so every ingest gets
its own outcome exactly as without grouping.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sartiq_storage.services.media.model import IngestResult
from sartiq_storage.services.media.promotion import Prepared
from sartiq_storage.services.media.recording import Recorder

MAX_GROUP = 64
"""Ingests written in one transaction at most (the batch route's order of magnitude)."""


@dataclass(eq=False)
class _Waiting:
    prepared: Prepared
    done: threading.Event = field(default_factory=threading.Event)
    leads: bool = False
    """Woken to write the next group, not with an answer."""
    result: IngestResult | None = None
    alone: bool = False
    """The group failed: record this one alone."""
    error: BaseException | None = None
    """Recording it alone failed so."""


class RecordGroups:
    """Records prepared ingests from concurrent callers in shared transactions."""

    def __init__(self, recorder: Recorder, max_group: int = MAX_GROUP) -> None:
        self.recorder = recorder
        self.max_group = max_group
        self._lock = threading.Lock()
        self._waiting: list[_Waiting] = []
        self._writing = False

    def record(self, prepared: Prepared) -> IngestResult | None:
        """What ``recorder.record([prepared])[0]`` answers, possibly written with others'."""
        mine = _Waiting(prepared)
        with self._lock:
            self._waiting.append(mine)
            leads = not self._writing
            self._writing = True
        if not leads:
            mine.done.wait()
            if not mine.leads:
                return self._answer(mine)
        self._write_group()
        return self._answer(mine)

    def _answer(self, mine: _Waiting) -> IngestResult | None:
        if mine.error is not None:
            raise mine.error
        if mine.alone:
            return self.recorder.record([mine.prepared])[0]
        return mine.result

    def _write_group(self) -> None:
        """Write what waits now (this caller's ingest among it), then hand the lead on."""
        with self._lock:
            group = self._waiting[: self.max_group]
            del self._waiting[: self.max_group]
        try:
            if len(group) == 1:  # alone: its own outcome, errors and all
                try:
                    group[0].result = self.recorder.record([group[0].prepared])[0]
                except BaseException as exc:  # noqa: BLE001 - raised by its own caller
                    group[0].error = exc
            else:
                try:
                    results = self.recorder.record([w.prepared for w in group])
                except Exception:  # noqa: BLE001 - each then records alone, its own error
                    for waiting in group:
                        waiting.alone = True
                else:
                    for waiting, result in zip(group, results, strict=True):
                        waiting.result = result
        finally:
            with self._lock:
                following = self._waiting[0] if self._waiting else None
                if following is None:
                    self._writing = False
                else:
                    following.leads = True
            for waiting in group:
                waiting.done.set()
            if following is not None:
                following.done.set()
