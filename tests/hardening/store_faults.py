"""Store faults: mixed operations through ``S3Store`` against an S3 server (moto, or
SeaweedFS with ``--server seaweedfs``) behind a fault proxy.

Each worker owns a key prefix, an ``S3Store`` of its own and a :class:`FaultProxy` of its own
with a seeded :class:`FaultPlan`, and runs its operations one at a time: the faults a worker
meets depend only on the seed, the worker's number and its request sequence, so a run can be
repeated. Workers use the three create-only dialects in turn (``generic``: a HEAD check;
``aws``: ``If-None-Match: *``; ``r2``: ``cf-copy-destination-if-none-match: *``); the proxy
answers both headers as S3 and R2 do, which moto alone does not.

After every operation a plain model of the bucket (key → bytes) is checked against what the
operation said and, for writes, against what a second, fault-free client reads back:

* **Nothing lost.** An acknowledged write is there at once with exactly its bytes; every read
  (get, head, list) agrees with the model; at the end the bucket equals the model.
* **Nothing duplicated.** A *duplicate* is any of: a listing that yields one key twice; a
  create-only write (``put``/``copy`` with ``if_absent``) acknowledged while the key already
  held an object (two acknowledged creations of one key with no delete between them); an object
  the model does not have at the end (a write resurrected by a retry after a delete, or a
  phantom key). One case is not a duplicate: a create-only call that met a fault, was
  repeated, and found the key holding exactly its own bytes succeeds (its first attempt may
  have written them, its answer lost; no client can tell that from "already there"), and the
  key still holds one object with those bytes. The report counts these.
* **Every error typed.** Anything reaching the caller that is not a ``StorageError`` from
  ``core/errors.py`` (botocore, obstore, socket errors...) is a violation.
* **All or nothing.** After an operation that raised, each key it touches holds either its
  value from before or the value the operation would have written, never anything else; the
  model takes what is there. ``delete_many`` reports failures instead of raising: the same
  rule holds for each key it reports.

The long run (issue 8's figure) is a command; CI runs a bounded one (``test_store_faults.py``)::

    .venv/bin/python -m tests.hardening.store_faults --ops 10000 --fault-rate 0.2 --seed 8
    .venv/bin/python -m tests.hardening.store_faults --server seaweedfs   # the strict server
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from typing import Literal

from sartiq_storage.adapters.stores import S3Store
from sartiq_storage.core.errors import (
    ObjectNotFoundError,
    PreconditionFailedError,
    StorageError,
)
from sartiq_storage.testing.moto_server import moto_client, moto_store
from tests.support.fault_proxy import FaultPlan, FaultProxy, fault_proxy

FLAVORS: tuple[Literal["generic", "aws", "r2"], ...] = ("generic", "aws", "r2")
OPS: dict[str, float] = {
    "put": 22,
    "put_create": 10,
    "get": 16,
    "head": 10,
    "copy": 8,
    "copy_meta": 6,
    "copy_create": 8,
    "delete": 8,
    "delete_many": 6,
    "list": 6,
}
DEFAULT_KINDS: dict[str, float] = {
    "500": 1.0,
    "503": 1.0,
    "reset": 1.0,
    "timeout": 0.5,
    "lost": 1.0,
    "truncate": 0.5,
}
FAULT_KINDS_USED = tuple(DEFAULT_KINDS)


@dataclass(frozen=True, slots=True)
class RunConfig:
    ops: int = 1500
    fault_rate: float = 0.2
    seed: int = 8
    workers: int = 8
    keys_per_worker: int = 12
    timeout: float = 2.0
    """The client's read timeout; a ``timeout`` fault holds the request 0.5 s longer."""
    max_payload: int = 24 * 1024
    delete_key_failure_rate: float = 0.1
    """Share of the keys in a ``DeleteObjects`` that the store reports as failed (per-key
    ``InternalError`` in a 200 answer), on top of the request faults."""
    kinds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_KINDS))


@dataclass(slots=True)
class Report:
    config: RunConfig
    ops: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    """Typed errors that reached the caller, by ``operation: ErrorClass``."""
    errored_applied: int = 0
    errored_not_applied: int = 0
    delete_many_failures: int = 0
    delete_errors_injected: int = 0
    acknowledged_writes: int = 0
    idempotent_creates: int = 0
    samples: list[str] = field(default_factory=list)
    """A few store failures that reached the caller, with the requests before them."""
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def merge(self, other: Report) -> None:
        self.ops.update(other.ops)
        self.requests += other.requests
        self.faults.update(other.faults)
        self.retries += other.retries
        self.errors.update(other.errors)
        self.errored_applied += other.errored_applied
        self.errored_not_applied += other.errored_not_applied
        self.delete_many_failures += other.delete_many_failures
        self.delete_errors_injected += other.delete_errors_injected
        self.acknowledged_writes += other.acknowledged_writes
        self.idempotent_creates += other.idempotent_creates
        self.violations += other.violations
        self.samples += other.samples

    def summary(self) -> str:
        refusals = Counter({k: v for k, v in self.errors.items() if k.endswith(_REFUSALS)})
        failures = Counter({k: v for k, v in self.errors.items() if k not in refusals})
        total_ops = sum(self.ops.values())
        total_faults = sum(self.faults.values())
        lines = [
            f"ops: {total_ops:,} in {self.seconds:.1f} s "
            f"(seed {self.config.seed}, {self.config.workers} workers, "
            f"fault rate {self.config.fault_rate:.0%})",
            "ops by kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.ops.items())),
            f"requests through the proxies: {self.requests:,}; faults injected: {total_faults:,} "
            f"({total_faults / max(1, self.requests):.1%})",
            "faults by kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.faults.items())),
            f"retries seen by the proxies: {self.retries:,}",
            f"store failures reaching the caller (typed): {sum(failures.values()):,}"
            + _counts(failures),
            f"refusals the model predicted (typed): {sum(refusals.values()):,}" + _counts(refusals),
            f"errored operations found applied: {self.errored_applied:,}; "
            f"not applied: {self.errored_not_applied:,}",
            f"per-key DeleteObjects failures injected: {self.delete_errors_injected:,}; "
            f"reported by delete_many: {self.delete_many_failures:,}",
            f"acknowledged writes, each read back exact: {self.acknowledged_writes:,}",
            f"create-only calls repeated after a fault that found their own bytes: "
            f"{self.idempotent_creates:,}",
            f"violations: {len(self.violations)}",
        ]
        lines += [f"  - {v}" for v in self.violations[:20]]
        return "\n".join(lines)


_REFUSALS = ("ObjectNotFoundError", "PreconditionFailedError")
_REFUSAL_TYPES = (ObjectNotFoundError, PreconditionFailedError)


def _counts(counter: Counter[str]) -> str:
    if not counter:
        return ""
    return " (" + ", ".join(f"{k} {v:,}" for k, v in sorted(counter.items())) + ")"


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _store(endpoint: str, bucket: str, flavor: str, timeout: float) -> S3Store:
    return moto_store(
        endpoint, bucket, flavor=flavor, connect_timeout=timeout, read_timeout=timeout
    )


class Worker:
    """One sequential client, its key prefix, its model and its checks."""

    def __init__(
        self,
        number: int,
        config: RunConfig,
        store: S3Store,
        oracle: S3Store,
        proxy: FaultProxy,
        prefix: str,
    ) -> None:
        self.number = number
        self.config = config
        self.store = store
        self.oracle = oracle
        self.proxy = proxy
        self.prefix = prefix
        self.rng = random.Random(f"{config.seed}:worker:{number}")
        self.keys = [f"{prefix}k{i:02d}" for i in range(config.keys_per_worker)]
        self.model: dict[str, bytes | None] = dict.fromkeys(self.keys)
        self.report = Report(config)
        self.step = 0

    # -- helpers ---------------------------------------------------------------------------

    def violation(self, text: str) -> None:
        recent = "\n      ".join(self.proxy.history)
        self.report.violations.append(
            f"w{self.number} ({self.store.flavor}) op {self.step}: {text}\n"
            f"    latest requests:\n      {recent}"
        )

    def actual(self, key: str) -> bytes | None:
        try:
            return self.oracle.get_bytes(key)
        except ObjectNotFoundError:
            return None

    def confirm(self, key: str, op: str) -> None:
        """An acknowledged write: the fault-free client must read exactly the model."""
        found = self.actual(key)
        if found != self.model[key]:
            self.violation(f"{op} acknowledged but {key} reads back {_show(found)}")
            self.model[key] = found
        else:
            self.report.acknowledged_writes += 1

    def settle(self, key: str, before: bytes | None, intended: bytes | None, op: str) -> None:
        """After an error: the key holds its old value or the intended one, nothing else."""
        found = self.actual(key)
        if found == intended and intended != before:
            self.report.errored_applied += 1
        elif found == before:
            self.report.errored_not_applied += 1
        else:
            self.violation(
                f"{op} raised and left {key} = {_show(found)}, neither "
                f"{_show(before)} nor {_show(intended)}"
            )
        self.model[key] = found

    def payload(self) -> bytes:
        size = self.rng.choice(
            (0, 1, 100, 1000, 4096, self.rng.randint(1, self.config.max_payload))
        )
        tag = f"w{self.number}:{self.step}:".encode()
        return (tag + self.rng.randbytes(size))[: max(size, len(tag))]

    # -- the run ---------------------------------------------------------------------------

    def run(self, count: int) -> Report:
        ops = list(OPS)
        weights = [OPS[o] for o in ops]
        for self.step in range(count):
            op = self.rng.choices(ops, weights)[0]
            self.report.ops[op] += 1
            try:
                getattr(self, f"op_{op}")()
            except Exception as exc:  # a check's own failure: record it, keep going
                self.violation(f"{op}: checker crashed: {exc!r}\n{traceback.format_exc()}")
        self.final_check()
        self.report.requests = self.proxy.count
        self.report.faults = Counter(self.proxy.by_kind)
        self.report.retries = self.proxy.retries
        self.report.delete_errors_injected = len(self.proxy.delete_errors_sent)
        return self.report

    def call(self, op: str, fn: Callable[[], object]) -> tuple[object, Exception | None]:
        """Run one store call; an untyped exception is a violation (and is returned typed as
        it came, so the caller settles as for any error)."""
        before = Counter(self.proxy.by_kind)
        try:
            return fn(), None
        except StorageError as exc:
            met = sorted((Counter(self.proxy.by_kind) - before).elements())
            after = f" after {'+'.join(met)}" if met and not isinstance(exc, _REFUSAL_TYPES) else ""
            self.report.errors[f"{op}: {type(exc).__name__}{after}"] += 1
            if after and len(self.report.samples) < 10:
                recent = "\n      ".join(self.proxy.history)
                self.report.samples.append(f"{op}: {str(exc)[:400]}\n      {recent}")
            return None, exc
        except Exception as exc:
            self.violation(f"{op} leaked an untyped {type(exc).__module__}.{type(exc).__name__}")
            self.report.errors[f"{op}: UNTYPED {type(exc).__name__}"] += 1
            return None, exc

    def op_put(self) -> None:
        key = self.rng.choice(self.keys)
        data, before = self.payload(), self.model[key]
        _, error = self.call("put", lambda: self.store.put(key, data))
        if error is None:
            self.model[key] = data
            self.confirm(key, "put")
        else:
            self.settle(key, before, data, "put")

    def op_put_create(self) -> None:
        key = self.rng.choice(self.keys)
        data, before = self.payload(), self.model[key]
        _, error = self.call("put_create", lambda: self.store.put(key, data, if_absent=True))
        if error is None:
            if before is not None:  # payloads are unique: never "its own bytes"
                self.violation(f"create-only put of {key} acknowledged over an existing object")
            self.model[key] = data
            self.confirm(key, "put_create")
        elif isinstance(error, PreconditionFailedError):
            if before is None:
                found = self.actual(key)
                self.violation(
                    f"create-only put of absent {key} refused; it holds {_show(found)} "
                    f"({'our bytes' if found == data else 'not ours'})"
                )
                self.model[key] = found
        else:
            self.settle(key, before, data if before is None else before, "put_create")

    def _read_check(self, key: str, got: bytes | None, op: str) -> None:
        if got != self.model[key]:
            self.violation(f"{op} {key} gave {_show(got)}, model has {_show(self.model[key])}")
            self.model[key] = self.actual(key)

    def op_get(self) -> None:
        key = self.rng.choice(self.keys)
        result, error = self.call("get", lambda: self.store.get_bytes(key))
        if error is None:
            assert isinstance(result, bytes)
            self._read_check(key, result, "get")
        elif isinstance(error, ObjectNotFoundError):
            self._read_check(key, None, "get")

    def op_head(self) -> None:
        key = self.rng.choice(self.keys)
        result, error = self.call("head", lambda: self.store.head(key))
        expected = self.model[key]
        if error is None:
            size = getattr(result, "size", None)
            md5 = getattr(result, "md5", None)
            if expected is None or size != len(expected) or md5 not in (None, _md5(expected)):
                self.violation(f"head {key} gave size {size} md5 {md5}, model {_show(expected)}")
                self.model[key] = self.actual(key)
        elif isinstance(error, ObjectNotFoundError) and expected is not None:
            self.violation(f"head {key}: not found, model has {_show(expected)}")
            self.model[key] = self.actual(key)

    def _copy(self, op: str, **kw: object) -> None:
        source, destination = self.rng.sample(self.keys, 2)
        src, before = self.model[source], self.model[destination]
        create_only = bool(kw.get("if_absent"))
        faults = self.proxy.faults
        result, error = self.call(op, lambda: self.store.copy(source, destination, **kw))  # type: ignore[arg-type]
        if error is None:
            if src is None:
                self.violation(f"{op} from absent {source} acknowledged")
            if create_only and before is not None:
                if before == src and self.proxy.faults > faults:
                    self.report.idempotent_creates += 1
                else:
                    self.violation(f"{op} to {destination} acknowledged over an existing object")
            if getattr(result, "size", None) != (len(src) if src is not None else None):
                self.violation(f"{op} answered size {getattr(result, 'size', None)}")
            self.model[destination] = src
            self.confirm(destination, op)
        elif isinstance(error, ObjectNotFoundError) and src is None:
            pass  # the source is absent: refused, nothing written
        elif isinstance(error, PreconditionFailedError) and create_only and before is not None:
            pass  # create-only and the destination exists: refused, nothing written
        elif isinstance(error, PreconditionFailedError | ObjectNotFoundError):
            found = self.actual(destination)
            self.violation(
                f"{op} {source}->{destination} refused with {type(error).__name__}; source "
                f"{_show(src)}, destination was {_show(before)}, now {_show(found)}"
            )
            self.model[destination] = found
        else:
            intended = src if src is not None and not (create_only and before) else before
            self.settle(destination, before, intended, op)

    def op_copy(self) -> None:
        self._copy("copy")

    def op_copy_meta(self) -> None:
        self._copy("copy_meta", content_type="text/plain", cache_control="no-cache")

    def op_copy_create(self) -> None:
        self._copy("copy_create", if_absent=True, content_type="application/octet-stream")

    def op_delete(self) -> None:
        key = self.rng.choice(self.keys)
        before = self.model[key]
        _, error = self.call("delete", lambda: self.store.delete(key))
        if error is None:
            self.model[key] = None
            self.confirm(key, "delete")
        else:
            self.settle(key, before, None, "delete")

    def op_delete_many(self) -> None:
        keys = self.rng.sample(self.keys, self.rng.randint(1, 5))
        before = {k: self.model[k] for k in keys}
        result, error = self.call("delete_many", lambda: self.store.delete_many(keys))
        if error is not None:
            for key in keys:
                self.settle(key, before[key], None, "delete_many")
            return
        failed = {f.key for f in result}  # type: ignore[attr-defined]
        self.report.delete_many_failures += len(failed)
        if not failed <= set(keys):
            self.violation(f"delete_many reported keys it was not given: {failed - set(keys)}")
        for key in keys:
            if key in failed:
                self.report.errors["delete_many: per-key failure"] += 1
                self.settle(key, before[key], None, "delete_many (failed key)")
            else:
                self.model[key] = None
                self.confirm(key, "delete_many")

    def op_list(self) -> None:
        prefix = self.prefix if self.rng.random() < 0.7 else f"{self.prefix}k0"
        result, error = self.call("list", lambda: list(self.store.list(prefix)))
        if error is not None:
            return
        listed = [(i.key, i.size) for i in result]  # type: ignore[attr-defined]
        keys = [k for k, _ in listed]
        if len(keys) != len(set(keys)):
            dupes = [k for k, n in Counter(keys).items() if n > 1]
            self.violation(f"list {prefix} yielded keys twice: {dupes}")
        if keys != sorted(keys):
            self.violation(f"list {prefix} out of order")
        expected = sorted(
            (k, len(v)) for k, v in self.model.items() if v is not None and k.startswith(prefix)
        )
        if sorted(set(listed)) != expected:
            self.violation(f"list {prefix} gave {sorted(set(listed))}, model {expected}")

    def final_check(self) -> None:
        listed = [i.key for i in self.oracle.list(self.prefix)]
        expected = sorted(k for k, v in self.model.items() if v is not None)
        if listed != expected:
            extra = sorted(set(listed) - set(expected))
            missing = sorted(set(expected) - set(listed))
            self.violation(f"final listing: phantom/duplicated {extra}, missing {missing}")
        for key in expected:
            if self.actual(key) != self.model[key]:
                self.violation(f"final read of {key} differs from the model")


def _show(value: bytes | None) -> str:
    if value is None:
        return "<absent>"
    return f"<{len(value)} bytes {value[:16]!r}… md5 {_md5(value)[:8]}>"


@contextmanager
def _server(endpoint: str | None, server: str = "moto") -> Iterator[str]:
    """``endpoint``, or a server of its own started for the run (moto or SeaweedFS)."""
    if endpoint is not None:
        yield endpoint
        return
    from sartiq_storage.testing.moto_server import moto_server
    from tests.support.seaweedfs import seaweedfs_server

    with seaweedfs_server() if server == "seaweedfs" else moto_server() as started:
        yield started


def _key_failures(config: RunConfig, number: int) -> Callable[[str], str | None]:
    rng = random.Random(f"{config.seed}:delete-keys:{number}")
    rate = config.delete_key_failure_rate

    def decide(key: str) -> str | None:
        return "InternalError" if rng.random() < rate else None

    return decide


StoreFactory = Callable[[str, str, str, float], S3Store]
"""``(endpoint, bucket, flavor, timeout)`` → the store under test (a mutant, in the test that
shows the checks catch one)."""


def run(
    config: RunConfig,
    endpoint: str | None = None,
    store_factory: StoreFactory | None = None,
    server: str = "moto",
) -> Report:
    """Run ``config.ops`` operations spread over the workers; start ``server`` (moto or
    SeaweedFS) unless an ``endpoint`` is given."""
    make = store_factory or _store

    report = Report(config)
    with _server(endpoint, server) as moto, ExitStack() as stack:
        bucket = f"faults-{config.seed}-{random.randrange(16**8):08x}"
        moto_client(moto).create_bucket(Bucket=bucket)
        workers: list[Worker] = []
        for number in range(config.workers):
            plan = FaultPlan(config.fault_rate, config.seed * 1000 + number, config.kinds)
            url, proxy = stack.enter_context(
                fault_proxy(
                    moto,
                    plan,
                    stall=config.timeout + 0.5,
                    conditional_copy=True,
                    delete_errors=_key_failures(config, number),
                )
            )
            flavor = FLAVORS[number % len(FLAVORS)]
            store = make(url, bucket, flavor, config.timeout)
            oracle = _store(moto, bucket, flavor, 30.0)
            stack.callback(store.close)
            stack.callback(oracle.close)
            workers.append(Worker(number, config, store, oracle, proxy, f"w{number}/"))
        share = [config.ops // config.workers] * config.workers
        for i in range(config.ops % config.workers):
            share[i] += 1
        reports: list[Report | None] = [None] * config.workers
        crashes: list[str] = []

        def go(i: int) -> None:
            try:
                reports[i] = workers[i].run(share[i])
            except BaseException as exc:  # a worker must not die silently
                crashes.append(f"worker {i} crashed: {exc!r}\n{traceback.format_exc()}")

        start = time.perf_counter()
        threads = [threading.Thread(target=go, args=(i,)) for i in range(config.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        report.seconds = time.perf_counter() - start
        for part in reports:
            if part is not None:
                report.merge(part)
        report.violations += crashes
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.hardening.store_faults",
        description="Mixed S3 operations through a fault proxy; checks nothing is lost.",
    )
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=2.0, help="client read timeout (s)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--server", choices=("moto", "seaweedfs"), default="moto", help="the S3 server to run"
    )
    args = parser.parse_args(argv)
    config = RunConfig(
        ops=args.ops,
        fault_rate=args.fault_rate,
        seed=args.seed,
        workers=args.workers,
        timeout=args.timeout,
    )
    report = run(config, server=args.server)
    if args.json:
        print(json.dumps(asdict(report), indent=2, default=str))
    else:
        print(report.summary())
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
