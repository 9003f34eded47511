"""Retention as code, put to work: plan, apply and check the bucket's rules, or sweep.

A bucket with a lifecycle engine (R2, S3, MinIO) enforces the policy itself once ``apply`` has
written it; ``plan`` and ``check`` show and detect drift (lifecycle and CORS together). Stores
without one (the embedded local disk, memory, or a MinIO nobody configured) get ``sweep``,
which enforces the same policy: it streams each expiring prefix, deletes what is past its
retention in batches, and never removes an upload a live intent still covers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select

from sartiq_storage.adapters.bucket_config import (
    CorsDiff,
    LifecycleDiff,
    apply_cors,
    apply_lifecycle,
    diff_cors,
    diff_lifecycle,
    read_cors,
    read_lifecycle,
)
from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import UploadIntent
from sartiq_storage.adapters.image_convert import EXTENSIONS
from sartiq_storage.adapters.stores import ObjectInfo, ObjectStore, S3Store
from sartiq_storage.adapters.stores.base import DeleteFailure
from sartiq_storage.core.datasets.namespaces import is_dataset_object
from sartiq_storage.core.keys import Retention, Zone, classify, retention_for
from sartiq_storage.core.lifecycle import LifecyclePolicy, Rule, expires_at
from sartiq_storage.services.delivery import DERIVED_PREFIX

BATCH: Final = 1000
"""Keys per delete (S3's ``DeleteObjects`` limit) and per intent query."""
SAMPLE_KEYS: Final = 10
MAX_REPORTED_FAILURES: Final = 100
PROGRESS_EVERY: Final = 500

NO_ENGINE_NOTE: Final = (
    "this store has no lifecycle engine: `sartiq-storage lifecycle sweep` enforces the "
    "policy (run it on a schedule)"
)


# --- plan / apply / check -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """What the bucket needs to match the policy; for stores without rules, why none apply."""

    store: str
    policy: LifecyclePolicy
    lifecycle: LifecycleDiff | None
    cors: CorsDiff | None
    note: str | None = None

    @property
    def has_engine(self) -> bool:
        return self.lifecycle is not None

    @property
    def in_sync(self) -> bool:
        """No drift. A store without a lifecycle engine has nothing to drift: sweep enforces."""
        return (self.lifecycle is None or self.lifecycle.in_sync) and (
            self.cors is None or self.cors.in_sync
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "environment": self.policy.environment.value,
            "policy_source": self.policy.source,
            "policy": {
                "rules": [
                    {"prefix": r.prefix, "expire_days": r.expire_days, "description": r.description}
                    for r in self.policy.rules
                ],
                "abort_incomplete_multipart_days": self.policy.abort_incomplete_multipart_days,
            },
            "lifecycle_engine": self.has_engine,
            "in_sync": self.in_sync,
            "lifecycle": self.lifecycle.as_dict() if self.lifecycle else None,
            "cors": self.cors.as_dict() if self.cors else None,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """The plan before writing, what was written, and the bucket read back afterwards."""

    before: Plan
    after: Plan
    lifecycle_written: bool
    cors_written: bool

    @property
    def in_sync(self) -> bool:
        return self.after.in_sync


def plan(store: ObjectStore, policy: LifecyclePolicy, origins: Sequence[str]) -> Plan:
    """Read the bucket's lifecycle and CORS rules and diff them against the policy."""
    if not isinstance(store, S3Store):
        return Plan(store.description, policy, None, None, NO_ENGINE_NOTE)
    lifecycle = diff_lifecycle(read_lifecycle(store.client, store.bucket), policy)
    cors = diff_cors(read_cors(store.client, store.bucket), origins)
    return Plan(store.description, policy, lifecycle, cors)


def apply(
    store: ObjectStore,
    policy: LifecyclePolicy,
    origins: Sequence[str],
    *,
    remove_foreign: bool = False,
) -> ApplyResult:
    """Write what the plan says is missing or changed, then read the bucket back.

    Foreign rules are kept unless ``remove_foreign``. Nothing is written when in sync.
    """
    before = plan(store, policy, origins)
    if not isinstance(store, S3Store) or before.lifecycle is None or before.cors is None:
        return ApplyResult(before, before, False, False)
    lifecycle_written = apply_lifecycle(
        store.client, store.bucket, before.lifecycle, remove_foreign=remove_foreign
    )
    cors_written = apply_cors(
        store.client, store.bucket, before.cors, remove_foreign=remove_foreign
    )
    after = plan(store, policy, origins) if lifecycle_written or cors_written else before
    return ApplyResult(before, after, lifecycle_written, cors_written)


def check(store: ObjectStore, policy: LifecyclePolicy, origins: Sequence[str]) -> bool:
    """``True`` when the bucket matches the policy (no drift); always ``True`` without an
    engine, where ``sweep`` is the enforcement."""
    return plan(store, policy, origins).in_sync


def drift_lines(result: Plan) -> list[str]:
    """Every difference between bucket and policy, one readable line each."""
    lines: list[str] = []
    if result.lifecycle is not None:
        diff = result.lifecycle
        lines += [f"lifecycle: missing {r.id} ({r.describe()})" for r in diff.missing]
        lines += [
            f"lifecycle: {c.current.id} is {c.current.describe()}; policy: {c.desired.describe()}"
            for c in diff.changed
        ]
        lines += [
            f"lifecycle: {r.id} ({r.describe()}) is not in the policy (removed on apply)"
            for r in diff.extra
        ]
        lines += [
            f"lifecycle: foreign rule {c.rule.id or '(no id)'} {c.reason} "
            "(kept; `apply --remove-foreign` removes it)"
            for c in diff.conflicts
        ]
    if result.cors is not None:
        cors = result.cors
        if cors.missing is not None:
            lines.append(
                f"cors: missing {cors.missing.id} (origins {', '.join(cors.missing.origins)})"
            )
        if cors.changed is not None:
            have, want = cors.changed
            lines.append(f"cors: {have.id} is {have.as_dict()}; wanted {want.as_dict()}")
        lines += [f"cors: {r.id} is not wanted any more (removed on apply)" for r in cors.extra]
    return lines


# --- sweep ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class PrefixSweep:
    """What one expiring prefix held and what the sweep did (or would do) there."""

    prefix: str
    expire_days: int
    scanned: int = 0
    scanned_bytes: int = 0
    due: int = 0
    """Past retention and not spared: deleted on apply, reported on a dry run."""
    due_bytes: int = 0
    spared: int = 0
    """Past retention, but an unexpired, unclaimed upload intent still covers the key."""
    spared_bytes: int = 0
    deleted: int = 0
    deleted_bytes: int = 0
    failed: int = 0
    samples: list[str] = field(default_factory=list)
    """A few of the due keys, for humans."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "expire_days": self.expire_days,
            "scanned": self.scanned,
            "scanned_bytes": self.scanned_bytes,
            "due": self.due,
            "due_bytes": self.due_bytes,
            "spared": self.spared,
            "spared_bytes": self.spared_bytes,
            "deleted": self.deleted,
            "deleted_bytes": self.deleted_bytes,
            "failed": self.failed,
            "samples": list(self.samples),
        }


@dataclass(slots=True)
class SweepReport:
    """The outcome of one sweep: per prefix, plus the first failures in full."""

    applied: bool
    now: datetime
    store: str
    prefixes: list[PrefixSweep] = field(default_factory=list)
    failures: list[DeleteFailure] = field(default_factory=list)
    """At most :data:`MAX_REPORTED_FAILURES`; ``failed`` counts them all."""
    aborted_uploads: int = 0
    """Incomplete multipart uploads past ``abort_incomplete_multipart_days`` (due, or removed
    when applied): the embedded store's share of the bucket rule."""

    def _total(self, name: str) -> int:
        return sum(int(getattr(p, name)) for p in self.prefixes)

    @property
    def scanned(self) -> int:
        return self._total("scanned")

    @property
    def due(self) -> int:
        return self._total("due")

    @property
    def due_bytes(self) -> int:
        return self._total("due_bytes")

    @property
    def spared(self) -> int:
        return self._total("spared")

    @property
    def deleted(self) -> int:
        return self._total("deleted")

    @property
    def deleted_bytes(self) -> int:
        return self._total("deleted_bytes")

    @property
    def failed(self) -> int:
        return self._total("failed")

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "now": self.now.isoformat(),
            "store": self.store,
            "totals": {
                "scanned": self.scanned,
                "due": self.due,
                "due_bytes": self.due_bytes,
                "spared": self.spared,
                "deleted": self.deleted,
                "deleted_bytes": self.deleted_bytes,
                "failed": self.failed,
            },
            "prefixes": [p.as_dict() for p in self.prefixes],
            "failures": [{"key": f.key, "error": f.error} for f in self.failures],
            "aborted_uploads": self.aborted_uploads,
        }


@dataclass(frozen=True, slots=True)
class SweepProgress:
    """Where a running sweep is, for a progress bar."""

    prefix: str
    scanned: int
    due: int
    deleted: int
    done: bool


ProgressCallback = Callable[[SweepProgress], None]


def _batches(items: Iterable[ObjectInfo], size: int) -> Iterator[list[ObjectInfo]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _covered_by_live_intent(db: Database, keys: Sequence[str], now: datetime) -> set[str]:
    """The keys an unexpired, unclaimed upload intent covers: one query per batch."""
    if not keys:
        return set()
    with db.session() as session:
        rows = session.scalars(
            select(UploadIntent.storage_key).where(
                UploadIntent.storage_key.in_(keys),
                UploadIntent.expires_at > now,
                UploadIntent.claimed_at.is_(None),
            )
        )
        return set(rows)


def _safe_to_expire(policy: LifecyclePolicy, rule: Rule, key: str) -> bool:
    """Defence in depth: the key is under ``rule``, the policy's most specific rule for it
    expires it the same way, and its zone is not a permanent one."""
    if not rule.matches(key):
        return False
    governing = policy.rule_for(key)
    if governing is None or governing.expire_days != rule.expire_days:
        return False
    zone = classify(key)
    if not (zone is Zone.unknown or retention_for(zone) is Retention.temporary):
        return False
    return _shaped_as_ours(key)


def _shaped_as_ours(key: str) -> bool:
    """Defence in depth: never a dataset repository's blob or tree file (which a repository
    made inside a zone before namespaces were checked would hold), and under ``derived/``
    only the derivatives the service writes (``derived/{fmt}/{tag}/{source key}.{ext}``).
    ``temp/`` and ``compute/`` hold whatever clients upload, as R2's rules see them."""
    if is_dataset_object(key):
        return False
    if not key.startswith(DERIVED_PREFIX):
        return True
    fmt, _, rest = key[len(DERIVED_PREFIX) :].partition("/")
    tag, _, source = rest.partition("/")
    extension = EXTENSIONS.get(fmt)
    return (
        extension is not None
        and bool(tag)
        and source.endswith(f".{extension}")
        and classify(source) is not Zone.unknown
    )


def sweep(
    store: ObjectStore,
    db: Database,
    policy: LifecyclePolicy,
    *,
    now: datetime,
    apply: bool = False,
    progress: ProgressCallback | None = None,
) -> SweepReport:
    """Enforce the policy on a store without a lifecycle engine; a dry run unless ``apply``.

    For each expiring prefix it streams the listing (constant memory), collects due objects
    (``last_modified + retention <= now``) in batches of at most 1,000, asks the database once
    per batch which of them a live upload intent still covers, and deletes the rest with one
    ``delete_many`` per batch. Permanent prefixes and keys outside the policy are never
    listed. Running it again changes nothing: what was due is gone. ``now`` is explicit so
    the caller (and the tests) decide what "now" is.
    """
    if now.tzinfo is None:
        raise ValueError("sweep needs a timezone-aware now")
    report = SweepReport(applied=apply, now=now, store=store.description)
    for rule in policy.sweep_rules():
        if rule.expire_days is None:  # sweep_rules holds expiring rules only
            continue
        stats = PrefixSweep(rule.prefix, rule.expire_days)
        report.prefixes.append(stats)
        checks_intents = classify(rule.prefix) is Zone.temp

        def tick(done: bool = False, stats: PrefixSweep = stats) -> None:
            if progress is not None:
                progress(SweepProgress(stats.prefix, stats.scanned, stats.due, stats.deleted, done))

        def due_objects(rule: Rule = rule, stats: PrefixSweep = stats) -> Iterator[ObjectInfo]:
            for info in store.list(rule.prefix):
                stats.scanned += 1
                stats.scanned_bytes += info.size
                if stats.scanned % PROGRESS_EVERY == 0:
                    tick()
                deadline = expires_at(rule, info.last_modified)
                if (
                    deadline is not None
                    and deadline <= now
                    and _safe_to_expire(policy, rule, info.key)
                ):
                    yield info

        for batch in _batches(due_objects(), BATCH):
            spared = (
                _covered_by_live_intent(db, [i.key for i in batch], now)
                if checks_intents
                else set()
            )
            doomed = [info for info in batch if info.key not in spared]
            for info in batch:
                if info.key in spared:
                    stats.spared += 1
                    stats.spared_bytes += info.size
            stats.due += len(doomed)
            stats.due_bytes += sum(info.size for info in doomed)
            room = SAMPLE_KEYS - len(stats.samples)
            stats.samples.extend(info.key for info in doomed[: max(room, 0)])
            if apply and doomed:
                failures = store.delete_many(info.key for info in doomed)
                failed_keys = {f.key for f in failures}
                stats.failed += len(failures)
                for info in doomed:
                    if info.key not in failed_keys:
                        stats.deleted += 1
                        stats.deleted_bytes += info.size
                room = MAX_REPORTED_FAILURES - len(report.failures)
                report.failures.extend(failures[: max(room, 0)])
            tick()
        tick(done=True)
    if policy.abort_incomplete_multipart_days:
        started_before = now - timedelta(days=policy.abort_incomplete_multipart_days)
        report.aborted_uploads = store.abort_stale_multipart(started_before, apply=apply)
    return report


__all__ = [
    "NO_ENGINE_NOTE",
    "ApplyResult",
    "Plan",
    "PrefixSweep",
    "ProgressCallback",
    "SweepProgress",
    "SweepReport",
    "apply",
    "check",
    "drift_lines",
    "plan",
    "sweep",
]
