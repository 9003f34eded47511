"""Storage health: the invariants worth watching, read cheaply (counts and last reports).

``status`` is ``ok``, ``degraded`` (the service works but something needs an operator: rows
whose object was missing at the last orphan scan, dead letters past their automatic retries,
objects still stored past their retention after the last sweep) or ``down`` (the store or
the database does not answer: nothing works). ``reasons`` says why, in words safe to show
anyone; the causes go to the log.

The store is checked by one HEAD of a key that does not exist (:class:`StoreProbe`): bounded
in time, one at a time, and remembered for a few seconds, so a load balancer polling every
instance often costs the store at most one request per instance per TTL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from sartiq_storage.adapters.db.models import (
    MediaDeletionDeadLetter,
    MediaDeletionOutbox,
    UploadIntent,
    utcnow,
)
from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.core.errors import StoreUnavailableError
from sartiq_storage.services import maintenance
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.media.deletions import COUNTERS, MAX_AUTOMATIC_ATTEMPTS

logger = logging.getLogger(__name__)

PROBE_KEY = "temp/health-probe"
"""HEADed, never written: a 404 is a store that answers."""
PROBE_TTL_SECONDS = 5.0
PROBE_TIMEOUT_SECONDS = 2.0
DEAD_LETTER_BACKLOG = 1000


@dataclass(frozen=True, slots=True)
class ProbeResult:
    up: bool
    reason: str | None = None
    seconds: float = 0.0


class StoreProbe:
    """Whether the store answers: at most one HEAD in flight, its result kept ``ttl`` seconds,
    and never a wait longer than ``timeout`` (a hung store is ``down``, not a hung health
    check; the HEAD left running finishes in the background and is not repeated meanwhile)."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        ttl: float = PROBE_TTL_SECONDS,
        timeout: float = PROBE_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.timeout = timeout
        self.clock = clock
        self.probes = 0
        self._lock = threading.Lock()
        self._result: ProbeResult | None = None
        self._at = 0.0
        self._pending: Future[ProbeResult] | None = None

    def check(self) -> ProbeResult:
        with self._lock:
            if self._result is not None and self.clock() - self._at < self.ttl:
                return self._result
            if self._pending is None or self._pending.done():
                self._pending = self._start()
            pending = self._pending
        try:
            result = pending.result(timeout=self.timeout)
        except FutureTimeout:
            result = ProbeResult(False, f"object store did not answer within {self.timeout:g} s")
        with self._lock:
            self._result, self._at = result, self.clock()
        return result

    def _start(self) -> Future[ProbeResult]:
        future: Future[ProbeResult] = Future()
        self.probes += 1

        def run() -> None:
            future.set_result(self._head())

        threading.Thread(target=run, name="store-probe", daemon=True).start()
        return future

    def _head(self) -> ProbeResult:
        started = time.perf_counter()
        try:
            self.store.check_reachable(PROBE_KEY)  # a missing bucket too, not only a dead store
        except StoreUnavailableError as exc:
            logger.warning("store probe failed: %s", exc.cause)
            return ProbeResult(False, str(exc), time.perf_counter() - started)
        except Exception as exc:
            logger.warning("store probe failed", exc_info=True)
            return ProbeResult(False, f"object store unavailable: {type(exc).__name__}")
        return ProbeResult(True, None, time.perf_counter() - started)


def storage_health(context: StorageContext, probe: StoreProbe | None = None) -> dict[str, Any]:
    """The figures and the verdict; ``probe`` checks the store (skipped when None)."""
    store = probe.check() if probe is not None else None
    try:
        figures = _figures(context)
        database: dict[str, Any] = {"up": True, "reason": None}
    except SQLAlchemyError:
        logger.warning("health: the database did not answer", exc_info=True)
        figures = _UNKNOWN
        database = {"up": False, "reason": "database unreachable"}
    reasons = [r for r in (database["reason"], store.reason if store else None) if r]
    if reasons:
        status = "down"
    else:
        reasons = _degraded(figures)
        status = "degraded" if reasons else "ok"
    return {
        "status": status,
        "reasons": reasons,
        "backend": context.settings.backend.value,
        "store": None
        if store is None
        else {"up": store.up, "reason": store.reason, "probe_seconds": round(store.seconds, 4)},
        "database": database,
        **figures,
        "deletions": {"done": COUNTERS.deleted, "failed": COUNTERS.failed},
    }


_UNKNOWN: dict[str, Any] = {
    "dead_letters": {"count": None, "exhausted": None, "oldest_age_seconds": None},
    "outbox_pending": None,
    "unclaimed_uploads": {"url_valid": None, "url_expired": None},
    "temp_past_retention": None,
    "ttl_breaches": None,
    "last_sweep": None,
    "orphans": {
        "objects": None,
        "missing_objects": None,
        "unattached_resources": None,
        "scanned_at": None,
    },
}
"""The figures' shape when the database does not answer: every count unknown."""


def _degraded(figures: dict[str, Any]) -> list[str]:
    reasons = []
    missing = figures["orphans"]["missing_objects"]
    if missing:
        reasons.append(f"{missing} rows pointed at a missing object at the last orphan scan")
    letters = figures["dead_letters"]
    if letters["exhausted"]:
        reasons.append(f"{letters['exhausted']} dead letters are past their automatic retries")
    if letters["count"] > DEAD_LETTER_BACKLOG:
        reasons.append(f"{letters['count']} dead letters are waiting")
    if figures["ttl_breaches"]:
        reasons.append(
            f"{figures['ttl_breaches']} objects past their retention were still stored "
            "after the last sweep"
        )
    return reasons


def _figures(context: StorageContext) -> dict[str, Any]:
    now = utcnow()
    db = context.db
    with db.session() as session:
        letters = session.scalar(select(func.count()).select_from(MediaDeletionDeadLetter)) or 0
        exhausted = (
            session.scalar(
                select(func.count())
                .select_from(MediaDeletionDeadLetter)
                .where(MediaDeletionDeadLetter.attempts >= MAX_AUTOMATIC_ATTEMPTS)
            )
            or 0
        )
        oldest = session.scalar(select(func.min(MediaDeletionDeadLetter.created_at)))
        outbox = session.scalar(select(func.count()).select_from(MediaDeletionOutbox)) or 0
        unclaimed_open = (
            session.scalar(
                select(func.count())
                .select_from(UploadIntent)
                .where(UploadIntent.claimed_at.is_(None), UploadIntent.expires_at > now)
            )
            or 0
        )
        unclaimed_expired = (
            session.scalar(
                select(func.count())
                .select_from(UploadIntent)
                .where(UploadIntent.claimed_at.is_(None), UploadIntent.expires_at <= now)
            )
            or 0
        )
    scan = maintenance.last_report(db, "orphans") or {}
    sweep = maintenance.last_report(db, "sweep") or {}
    totals = sweep.get("totals") or {}
    due = totals.get("due")
    # What the sweep found due and did not delete (a dry run deletes nothing) is still stored.
    breaches = None if due is None else due - (totals.get("deleted") or 0)
    return {
        "dead_letters": {
            "count": letters,
            "exhausted": exhausted,
            "oldest_age_seconds": (now - oldest).total_seconds() if oldest else None,
        },
        "outbox_pending": outbox,
        "unclaimed_uploads": {"url_valid": unclaimed_open, "url_expired": unclaimed_expired},
        "temp_past_retention": due,
        "ttl_breaches": breaches,
        "last_sweep": sweep or None,
        "orphans": {
            "objects": scan.get("orphan_objects"),
            "missing_objects": scan.get("missing_objects"),
            "unattached_resources": scan.get("unattached_resources"),
            "scanned_at": scan.get("_finished_at"),
        },
    }
