"""Repository records and their settings (branch protection, GC rules) in the KV store."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Sequence

from sartiq_storage.adapters.datasets.kv import KV
from sartiq_storage.core.datasets.errors import (
    NotFoundError,
    PreconditionFailedError,
    ProtectedBranchError,
    ReadOnlyRepositoryError,
)
from sartiq_storage.core.datasets.model import GcRules, Repository
from sartiq_storage.services.datasets.records import (
    GRAVELER,
    RepoRecord,
    decode_gc_rules,
    dumps,
    encode_gc_rules,
    loads,
)

DEFAULT_RETENTION_DAYS = 21


class Repositories:
    def __init__(self, kv: KV) -> None:
        self.kv = kv
        self._seen: dict[str, str] = {}
        """Each repository's partition as last read: a guess for :meth:`get_with`, never
        trusted alone (the record is read in the same call and must name it)."""

    def get(self, name: str) -> RepoRecord:
        data = self.kv.get(GRAVELER, f"repos/{name}")
        if data is None:
            raise NotFoundError(f"repository {name!r} not found")
        record = RepoRecord.decode(data)
        self._seen[name] = record.partition
        return record

    def get_with(self, name: str, key: str) -> tuple[RepoRecord, bytes | None]:
        """The repository and the value of ``key`` in its partition, read together in one
        round trip when the partition is known from an earlier read (and then checked: a
        repository deleted and created again has a new one, and its key is read again)."""
        partition = self._seen.get(name)
        if partition is None:
            record = self.get(name)
            return record, self.kv.get(record.partition, key)
        data, value = self.kv.get_many([(GRAVELER, f"repos/{name}"), (partition, key)])
        if data is None:
            self._seen.pop(name, None)
            raise NotFoundError(f"repository {name!r} not found")
        record = RepoRecord.decode(data)
        if record.partition != partition:
            self._seen[name] = record.partition
            value = self.kv.get(record.partition, key)
        return record, value

    def records(self) -> Iterator[RepoRecord]:
        for _key, data in self.kv.scan(GRAVELER, prefix="repos/"):
            yield RepoRecord.decode(data)

    def page(self, *, after: str, amount: int) -> list[Repository]:
        out: list[Repository] = []
        start = f"repos/{after}" if after else ""
        for _key, data in self.kv.scan(GRAVELER, prefix="repos/", after=start):
            out.append(RepoRecord.decode(data).repository)
            if len(out) >= amount:
                break
        return out

    def publish(self, record: RepoRecord) -> bool:
        """Make the repository visible; False when the name was taken meanwhile."""
        return self.kv.set_if(GRAVELER, f"repos/{record.repository.name}", record.encode(), None)

    def delete(self, record: RepoRecord) -> None:
        self.kv.delete(GRAVELER, f"repos/{record.repository.name}")
        self.kv.delete_prefix(record.partition)

    # -- checks ----------------------------------------------------------------------------
    def check_writable(self, repo: RepoRecord) -> None:
        if repo.repository.read_only:
            raise ReadOnlyRepositoryError(f"repository {repo.repository.name!r} is read-only")

    def check_unprotected(self, repo: RepoRecord, branch: str) -> None:
        if any(fnmatch.fnmatchcase(branch, p) for p in self.protection(repo)):
            raise ProtectedBranchError(f"branch {branch!r} is protected")

    # -- settings --------------------------------------------------------------------------
    def protection(self, repo: RepoRecord) -> list[str]:
        data = self.kv.get(repo.partition, "settings/protection")
        return [] if data is None else [str(p) for p in loads(data)]

    def set_protection(
        self, repo: RepoRecord, patterns: Sequence[str], *, expected: Sequence[str] | None = None
    ) -> None:
        """With ``expected``: a compare-and-set on the stored rules (lakeFS's ``SetIf`` on
        their checksum), so of two writers that read the same rules only one wins."""
        if expected is None:
            self.kv.set(repo.partition, "settings/protection", dumps(list(patterns)))
            return
        raw = self.kv.get(repo.partition, "settings/protection")
        current = [] if raw is None else [str(p) for p in loads(raw)]
        if current != list(expected) or not self.kv.set_if(
            repo.partition, "settings/protection", dumps(list(patterns)), raw
        ):
            raise PreconditionFailedError(
                message="branch protection rules changed since they were read"
            )

    def gc_rules(self, repo: RepoRecord) -> GcRules | None:
        """The rules set, or None (lakeFS: not found until set)."""
        data = self.kv.get(repo.partition, "settings/gc_rules")
        return None if data is None else decode_gc_rules(data)

    def effective_gc_rules(self, repo: RepoRecord) -> GcRules:
        """The rules GC applies: the set ones, else 21 days for every branch."""
        rules = self.gc_rules(repo)
        return GcRules(DEFAULT_RETENTION_DAYS) if rules is None else rules

    def set_gc_rules(self, repo: RepoRecord, rules: GcRules) -> None:
        self.kv.set(repo.partition, "settings/gc_rules", encode_gc_rules(rules))
