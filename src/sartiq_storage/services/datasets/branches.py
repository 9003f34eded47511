"""Branch records: reads, compare-and-set updates, the in-process lock, and the reflog.

Graveler's RefManager (branch half) and BranchLocker: a branch pointer moves only by
compare-and-set on its KV record, retried with tenacity; same-branch commits in one process
queue on a lock so they do not spin against each other.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import TypeVar

from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from sartiq_storage.adapters.datasets.kv import KV
from sartiq_storage.core.datasets.errors import NotFoundError, TooManyRetriesError
from sartiq_storage.core.datasets.model import Branch, ReflogEntry
from sartiq_storage.services.datasets.records import (
    BranchRecord,
    RepoRecord,
    decode_reflog,
    encode_reflog,
)
from sartiq_storage.services.datasets.staging import Staging

MAX_CAS_ATTEMPTS = 50
T = TypeVar("T")


class CasLostError(Exception):
    """A compare-and-set found the record changed: read it again and retry."""


class MovedError(Exception):
    """The branch head moved under a commit: rebase and try again."""

    def __init__(self, record: BranchRecord) -> None:
        self.record = record


def retry_cas(attempt: Callable[[], T], what: str) -> T:
    """Run ``attempt`` until it stops raising :class:`CasLostError`: at most
    ``MAX_CAS_ATTEMPTS`` times, backing off 1 ms doubling to 50 ms, then TooManyRetriesError."""
    retrying = Retrying(
        stop=stop_after_attempt(MAX_CAS_ATTEMPTS),
        wait=wait_exponential(multiplier=0.001, max=0.05),
        retry=retry_if_exception_type(CasLostError),
    )
    try:
        return retrying(attempt)
    except RetryError:
        raise TooManyRetriesError(f"{what} kept changing; try again") from None


def new_token() -> str:
    return uuid.uuid4().hex


class Branches:
    def __init__(self, kv: KV, staging: Staging) -> None:
        self.kv = kv
        self.staging = staging
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def get(self, repo: RepoRecord, name: str) -> tuple[BranchRecord, bytes]:
        """The record and its raw bytes (the value a compare-and-set expects)."""
        data = self.kv.get(repo.partition, f"branches/{name}")
        if data is None:
            raise NotFoundError(f"branch {name!r} not found in {repo.repository.name!r}")
        return BranchRecord.decode(data), data

    @contextmanager
    def lock(self, repo: RepoRecord, branch: str) -> Iterator[None]:
        with self._locks_guard:
            lock = self._locks.setdefault((repo.partition, branch), threading.Lock())
        with lock:
            yield

    def create(self, repo: RepoRecord, name: str, record: BranchRecord) -> bool:
        """False when the name is taken."""
        return self.kv.set_if(repo.partition, f"branches/{name}", record.encode(), None)

    def page(
        self, repo: RepoRecord, *, prefix: str, after: str, amount: int, show_hidden: bool
    ) -> list[Branch]:
        start = f"branches/{after}" if after else ""
        out: list[Branch] = []
        for key, data in self.kv.scan(repo.partition, prefix=f"branches/{prefix}", after=start):
            record = BranchRecord.decode(data)
            if record.hidden and not show_hidden:
                continue
            out.append(Branch(key[len("branches/") :], record.commit_id))
            if len(out) >= amount:
                break
        return out

    def delete(self, repo: RepoRecord, name: str) -> None:
        """Drops the record and every staging token it held."""
        record, _raw = self.get(repo, name)
        self.kv.delete(repo.partition, f"branches/{name}")
        for token in record.tokens:
            self.staging.drop(token)

    def update(
        self,
        repo: RepoRecord,
        name: str,
        change: Callable[[BranchRecord], BranchRecord | None],
    ) -> BranchRecord:
        """Compare-and-set loop: ``change`` maps the current record to the new one (None: keep)."""

        def attempt() -> BranchRecord:
            current, raw = self.get(repo, name)
            new = change(current)
            if new is None:
                return current
            if self.kv.set_if(repo.partition, f"branches/{name}", new.encode(), raw):
                return new
            raise CasLostError(name)

        return retry_cas(attempt, f"branch {name!r}")

    def swap(
        self,
        repo: RepoRecord,
        branch: str,
        expected: bytes,
        new: BranchRecord,
        absorbed: Sequence[str],
    ) -> bool:
        """Replace the branch record if it is still exactly ``expected`` (any seal, commit or
        reset since makes the caller rebuild); on success drop the staging tokens ``new``
        absorbed."""
        if not self.kv.set_if(repo.partition, f"branches/{branch}", new.encode(), expected):
            return False
        for token in absorbed:
            self.staging.drop(token)
        return True

    def advance(self, repo: RepoRecord, branch: str, expected: str, new: str) -> None:
        """Move the head from ``expected`` to ``new`` (compare-and-set), staging untouched;
        raises :class:`MovedError` when another writer moved it first."""

        def step(cur: BranchRecord) -> BranchRecord:
            if cur.commit_id != expected:
                raise MovedError(cur)
            return replace(cur, commit_id=new)

        self.update(repo, branch, step)

    def staging_token(self, repo: RepoRecord, branch: str) -> str:
        return self.get(repo, branch)[0].staging_token

    def add_reflog(self, repo: RepoRecord, entry: ReflogEntry) -> None:
        sequence = f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"
        self.kv.set(repo.partition, f"reflog/{entry.branch}/{sequence}", encode_reflog(entry))

    def reflog(self, repo: RepoRecord, branch: str) -> list[ReflogEntry]:
        """Newest first."""
        entries = [
            decode_reflog(d) for _k, d in self.kv.scan(repo.partition, prefix=f"reflog/{branch}/")
        ]
        return entries[::-1]
