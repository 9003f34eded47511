"""Imports as lakeFS runs them: started, then ingested in the background, then one commit.

An import is a job record in the repository's KV partition (``imports/<id>``, as lakeFS's
``ImportsPath``): its sources, where the listing got to, the ranges written so far and how many
objects were ingested. A runner holds a lease (``import_leases/<id>``, renewed every few
seconds) and works in batches: list up to :data:`BATCH` source objects after the cursor, write
them as one range file in the repository's namespace, move the cursor, save. So a ``serve``
killed mid-import loses at most one batch: the next one (:meth:`resume_imports`, run when the
lakeFS API starts) takes over the job once its lease has gone stale and continues from the
cursor. When every source is listed the ranges are read back and committed with the
destinations' old contents removed, as lakeFS's import replaces its prefixes.

Cancel marks the job (``error: Canceled``, not completed, as lakeFS); the runner stops at its
next batch and commits nothing. Cancelling a completed import is a conflict (409).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sartiq_storage.core.datasets.errors import (
    AlreadyExistsError,
    DatasetError,
    InvalidArgumentError,
    NotFoundError,
)
from sartiq_storage.core.datasets.model import Commit
from sartiq_storage.core.datasets.names import validate_branch_name
from sartiq_storage.core.datasets.ranges import Record
from sartiq_storage.core.errors import StorageError
from sartiq_storage.services import failpoints
from sartiq_storage.services.datasets.committed import Change
from sartiq_storage.services.datasets.engine_base import EngineParts
from sartiq_storage.services.datasets.importer import check_source, single, walk
from sartiq_storage.services.datasets.records import RepoRecord, dumps, loads

BATCH = 1000
"""Source objects per saved step (one listing page, one range file, one KV write)."""
LEASE_SECONDS = 10.0
"""A runner renews its lease every quarter of this; older, another process may take over."""
CANCELED = "Canceled"
"""lakeFS's ``ImportCanceled``: the error text of a cancelled import."""

SourceType = Literal["common_prefix", "object"]
State = Literal["running", "completed", "failed", "canceled"]


@dataclass(frozen=True, slots=True)
class ImportSource:
    """One of lakeFS's ``ImportLocation``: a prefix (replacing ``destination``) or one object."""

    type: SourceType
    path: str
    destination: str


@dataclass(frozen=True, slots=True)
class ImportJob:
    """What ``GET …/import?id=`` reports (lakeFS's ``ImportStatus``)."""

    id: str
    repository: str
    branch: str
    state: State
    ingested: int
    updated: float
    error: str | None = None
    commit: Commit | None = None
    sources: tuple[ImportSource, ...] = field(default=())

    @property
    def completed(self) -> bool:
        return self.state == "completed"


class _LostError(Exception):
    """Another runner saved the job meanwhile: this one stops without writing."""


def _job_key(import_id: str) -> str:
    return f"imports/{import_id}"


def _lease_key(import_id: str) -> str:
    return f"import_leases/{import_id}"


class _Lease:
    """Renews ``import_leases/<id>`` in a thread while a runner works on the job."""

    def __init__(self, parts: EngineParts, r: RepoRecord, import_id: str) -> None:
        self.parts, self.r, self.key = parts, r, _lease_key(import_id)
        self.owner = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, daemon=True, name="import-lease")

    def claim(self) -> bool:
        raw = self.parts.kv.get(self.r.partition, self.key)
        if raw is not None and time.time() - float(loads(raw)["at"]) < LEASE_SECONDS:
            return False
        mine = dumps({"owner": self.owner, "at": time.time()})
        if not self.parts.kv.set_if(self.r.partition, self.key, mine, raw):
            return False
        self._thread.start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_SECONDS / 4):
            raw = self.parts.kv.get(self.r.partition, self.key)
            if raw is None or loads(raw)["owner"] != self.owner:
                return
            self.parts.kv.set_if(
                self.r.partition, self.key, dumps({"owner": self.owner, "at": time.time()}), raw
            )

    def release(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=LEASE_SECONDS)
        self.parts.kv.delete(self.r.partition, self.key)


class ImportOperations(EngineParts):
    """Start, run, resume, report and cancel imports (the engine's import group)."""

    # -- starting and reporting -----------------------------------------------------------
    def start_import(
        self,
        repo: str,
        branch: str,
        sources: Sequence[ImportSource],
        *,
        message: str,
        committer: str = "sartiq-storage",
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Checks and records the job (not yet run: :meth:`run_import`); returns its id."""
        r = self._import_target(repo, branch)
        if not sources:
            raise InvalidArgumentError("an import needs at least one source")
        qualified = []
        for source in sources:
            if source.type not in ("common_prefix", "object"):
                raise InvalidArgumentError(f"unknown import path type {source.type!r}")
            path = self.stores.import_source(source.path)
            check_source(self.stores, path, r.namespace_key)
            destination = source.destination
            if source.type == "common_prefix" and destination and not destination.endswith("/"):
                destination += "/"
            if source.type == "object" and (not destination or destination.endswith("/")):
                raise InvalidArgumentError("an object import needs a destination path")
            qualified.append([source.type, path, destination])
        import_id = uuid.uuid4().hex[:20]
        job = {
            "id": import_id,
            "branch": branch,
            "sources": qualified,
            "message": message,
            "committer": committer,
            "metadata": dict(metadata or {}),
            "state": "running",
            "error": None,
            "ingested": 0,
            "updated": time.time(),
            "ranges": [],
            "cursor": [0, None],
            "commit": None,
        }
        self.kv.set(r.partition, _job_key(import_id), dumps(job))
        return import_id

    def _load(self, r: RepoRecord, import_id: str) -> tuple[dict[str, Any], bytes]:
        raw = self.kv.get(r.partition, _job_key(import_id))
        if raw is None:
            raise NotFoundError(f"import {import_id!r} not found")
        return dict(loads(raw)), raw

    def _job(self, r: RepoRecord, job: Mapping[str, Any]) -> ImportJob:
        commit = self.refs.commit(r, job["commit"]) if job["commit"] else None
        error = job["error"] or (CANCELED if job["state"] == "canceled" else None)
        return ImportJob(
            id=job["id"],
            repository=r.repository.name,
            branch=job["branch"],
            state=job["state"],
            ingested=int(job["ingested"]),
            updated=float(job["updated"]),
            error=error,
            commit=commit,
            sources=tuple(ImportSource(t, p, d) for t, p, d in job["sources"]),
        )

    def import_status(self, repo: str, import_id: str, *, branch: str | None = None) -> ImportJob:
        r = self.repos.get(repo)
        job, _raw = self._load(r, import_id)
        if branch is not None and job["branch"] != branch:
            raise NotFoundError(f"import {import_id!r} not found")
        return self._job(r, job)

    def cancel_import(self, repo: str, import_id: str, *, branch: str | None = None) -> None:
        """Marks the job cancelled; 409 once it completed (lakeFS: ``ErrConflictFound``)."""
        r = self.repos.get(repo)
        while True:
            job, raw = self._load(r, import_id)
            if branch is not None and job["branch"] != branch:
                raise NotFoundError(f"import {import_id!r} not found")
            if job["state"] == "completed":
                raise AlreadyExistsError("import already completed")
            if job["state"] != "running":
                return
            job.update(state="canceled", error=CANCELED, updated=time.time())
            if self.kv.set_if(r.partition, _job_key(import_id), dumps(job), raw):
                return

    # -- running --------------------------------------------------------------------------
    def run_import(
        self,
        repo: str,
        import_id: str,
        *,
        progress: Callable[[ImportJob], None] | None = None,
        batch: int | None = None,
    ) -> ImportJob:
        """Runs the job to its end from where it got to, ``batch`` source objects a step
        (default: the engine's ``import_batch``); returns its final state. Another runner
        holding a live lease: returns the state as it is, without running."""
        batch = batch or self.import_batch
        r = self.repos.get(repo)
        lease = _Lease(self, r, import_id)
        self._load(r, import_id)
        if not lease.claim():
            return self.import_status(repo, import_id)
        try:
            job, raw = self._load(r, import_id)
            try:
                job, raw = self._ingest(r, job, raw, progress, batch)
                if job["state"] == "running":
                    job, raw = self._commit(r, job, raw)
            except (DatasetError, StorageError) as exc:
                job, raw = self._finish(r, job["id"], state="failed", error=str(exc))
            except _LostError:
                return self.import_status(repo, import_id)
            if progress is not None:
                progress(self._job(r, job))
            return self._job(r, job)
        finally:
            lease.release()

    def _save(self, r: RepoRecord, job: dict[str, Any], raw: bytes) -> tuple[dict[str, Any], bytes]:
        """Saves the runner's step; a concurrent cancel wins (the reloaded job comes back)."""
        job["updated"] = time.time()
        new = dumps(job)
        if self.kv.set_if(r.partition, _job_key(job["id"]), new, raw):
            return job, new
        current, current_raw = self._load(r, job["id"])
        if current["state"] == "running":  # not ours to overwrite: stop quietly
            raise _LostError(job["id"])
        return current, current_raw

    def _finish(
        self, r: RepoRecord, import_id: str, *, state: State, error: str | None
    ) -> tuple[dict[str, Any], bytes]:
        while True:
            job, raw = self._load(r, import_id)
            if job["state"] != "running":
                return job, raw
            job.update(state=state, error=error, updated=time.time())
            new = dumps(job)
            if self.kv.set_if(r.partition, _job_key(import_id), new, raw):
                return job, new

    def _ingest(
        self,
        r: RepoRecord,
        job: dict[str, Any],
        raw: bytes,
        progress: Callable[[ImportJob], None] | None,
        batch: int,
    ) -> tuple[dict[str, Any], bytes]:
        sources = job["sources"]
        while job["state"] == "running" and job["cursor"][0] < len(sources):
            index, after = job["cursor"]
            kind, path, destination = sources[index]
            records, cursor = self._step(kind, path, destination, index, after, batch)
            if records:
                info = self.committed.write_range(r.namespace_key, records)
                job["ranges"].append([info.id, info.min_key, info.max_key, info.count])
                job["ingested"] += len(records)
            job["cursor"] = cursor
            job, raw = self._save(r, job, raw)
            failpoints.hit("datasets.import.batch")
            if progress is not None and job["state"] == "running":
                progress(self._job(r, job))
        return job, raw

    def _step(
        self, kind: str, path: str, destination: str, index: int, after: str | None, batch: int
    ) -> tuple[list[Record], list[Any]]:
        """The next batch of one source and the cursor after it."""
        if kind == "object":
            return [single(self.stores, path, destination)], [index + 1, None]
        records: list[Record] = []
        last = after
        for key, record in walk(self.stores, path, destination, start_after=after):
            records.append(record)
            last = key
            if len(records) >= batch:
                return records, [index, last]
        return records, [index + 1, None]

    def _imported(self, r: RepoRecord, job: Mapping[str, Any]) -> Iterator[Record]:
        for range_id, *_rest in job["ranges"]:
            yield from self.committed.read_range(r.namespace_key, range_id).records

    def _import_target(self, repo: str, branch: str) -> RepoRecord:
        """The repository an import to ``branch`` may go to: writable, the branch existing.
        Protection is not checked, as lakeFS's graveler ``Import`` does not (a protected
        branch takes imports, as it takes merges)."""
        r = self._writable_repo(repo)
        validate_branch_name(branch)
        self.branches.get(r, branch)
        return r

    def _commit(
        self, r: RepoRecord, job: dict[str, Any], raw: bytes
    ) -> tuple[dict[str, Any], bytes]:
        branch = job["branch"]
        self._import_target(r.repository.name, branch)
        imported = {record.path: record for record in self._imported(r, job)}
        replaced = [d for kind, _p, d in job["sources"] if kind == "common_prefix"]
        ns = r.namespace_key

        def build(head: Commit) -> tuple[list[Change], list[str], bool]:
            changes: dict[str, Record | None] = dict(imported)
            for prefix in replaced:
                for record in self.committed.iterate(ns, head.meta_range_id, prefix=prefix):
                    if record.path not in imported:
                        changes[record.path] = None
            return sorted(changes.items(), key=lambda item: item[0]), [], False

        latest, _latest_raw = self._load(r, job["id"])
        if latest["state"] != "running":  # cancelled while the last batch was saved
            return latest, _latest_raw
        made = self.committer.commit_tree(
            r,
            branch,
            build,
            message=job["message"],
            committer=job["committer"],
            metadata=job["metadata"],
            allow_empty=True,
        )
        while True:
            job, raw = self._load(r, job["id"])
            job.update(state="completed", error=None, commit=made.id, updated=time.time())
            new = dumps(job)
            if self.kv.set_if(r.partition, _job_key(job["id"]), new, raw):
                return job, new

    # -- after a restart ------------------------------------------------------------------
    def pending_imports(self) -> list[tuple[str, str]]:
        """``(repository, import id)`` of every job still running (here or anywhere)."""
        found = []
        for r in self.repos.records():
            for _key, data in self.kv.scan(r.partition, prefix="imports/"):
                job = loads(data)
                if job.get("state") == "running":
                    found.append((r.repository.name, str(job["id"])))
        return found

    def resume_imports(self, *, rounds: int = 6) -> int:
        """Continues every running job whose runner is gone (its lease stale), waiting up to
        ``rounds`` lease periods for leases of a dead process to go stale; returns how many
        this call ran. A job whose lease keeps being renewed has a live runner: left alone."""
        ran = 0
        seen: dict[tuple[str, str], float] = {}
        for _round in range(rounds):
            pending = self.pending_imports()
            if not pending:
                break
            waiting = False
            for repo, import_id in pending:
                r = self.repos.get(repo)
                lease = self.kv.get(r.partition, _lease_key(import_id))
                at = float(loads(lease)["at"]) if lease is not None else 0.0
                if time.time() - at >= LEASE_SECONDS:
                    with _suppress_dataset_errors():
                        self.run_import(repo, import_id)
                        ran += 1
                elif seen.get((repo, import_id), at) == at:
                    waiting = True  # not renewed since we looked: perhaps a dead runner
                seen[(repo, import_id)] = at
            if not waiting:
                break
            time.sleep(LEASE_SECONDS / 2)
        return ran

    def import_prefix(
        self,
        repo: str,
        branch: str,
        source: str,
        destination: str,
        *,
        message: str,
        committer: str = "sartiq-storage",
        metadata: Mapping[str, str] | None = None,
    ) -> Commit:
        """Imports one prefix and waits: replaces everything under ``destination``; staged
        changes on the branch stay staged."""
        import_id = self.start_import(
            repo,
            branch,
            [ImportSource("common_prefix", source, destination)],
            message=message,
            committer=committer,
            metadata=metadata,
        )
        job = self.run_import(repo, import_id)
        if job.commit is None:
            raise InvalidArgumentError(f"import {job.state}: {job.error}")
        return job.commit


class _suppress_dataset_errors:
    """A resumed job that fails is recorded failed; its error must not stop the others."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_args: object) -> bool:
        return kind is not None and issubclass(kind, DatasetError | StorageError)
