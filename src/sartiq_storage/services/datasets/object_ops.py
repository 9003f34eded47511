"""The engine's object operations: staged writes and reads through a ref's view."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from sartiq_storage.adapters.stores import ObjectStream
from sartiq_storage.core.datasets.errors import NotFoundError, PreconditionFailedError
from sartiq_storage.core.datasets.model import (
    CommonPrefix,
    Entry,
    Listing,
    OpenObject,
    if_match_holds,
)
from sartiq_storage.core.datasets.names import validate_path
from sartiq_storage.core.datasets.protocol import Data
from sartiq_storage.core.datasets.ranges import Record, entry_to_record, record_to_entry
from sartiq_storage.services.datasets.committed import Change
from sartiq_storage.services.datasets.engine_base import EngineParts
from sartiq_storage.services.datasets.records import RepoRecord


def _offset(item: Entry | CommonPrefix) -> str:
    return item.path


class ObjectOperations(EngineParts):
    def _stage(self, r: RepoRecord, branch: str, changes: Sequence[Change]) -> None:
        """Write into the current token; if a commit sealed it meanwhile, write again."""
        token = self.branches.staging_token(r, branch)
        while True:
            if len(changes) == 1:
                self.staging.put(token, *changes[0])
            else:
                self.staging.put_many(token, changes)
            current = self.branches.staging_token(r, branch)
            if current == token:
                return
            token = current

    def _stage_if_absent(self, r: RepoRecord, branch: str, path: str, record: Record) -> None:
        """Stage ``path`` only if the branch has no object there, as lakeFS's ``IfAbsent``."""
        self._stage_if(r, branch, path, record, lambda current: current is None, "already exists")

    def _stage_if(
        self,
        r: RepoRecord,
        branch: str,
        path: str,
        record: Record,
        accept: Callable[[Record | None], bool],
        refusal: str,
    ) -> None:
        """Stage ``path`` only if ``accept`` holds for what the branch has there: the token's
        entry is read, then the view, and the write is a compare-and-set on that entry, so of
        concurrent conditional writers one wins and the others get 412."""
        view = self.views.view(r, branch)
        token = view.tokens[0] if view.tokens else self.branches.staging_token(r, branch)
        staged = self.staging.raw(token, path)
        if not accept(self.views.lookup(r, view, path)) or not self.staging.put_if(
            token, path, record, staged
        ):
            raise PreconditionFailedError(path, message=f"path {path!r} {refusal} on {branch!r}")
        current = self.branches.staging_token(r, branch)
        while current != token:  # a commit sealed our token meanwhile: write again, as _stage
            token = current
            self.staging.put_if_absent(token, path, record)  # lost: a later write is newer
            current = self.branches.staging_token(r, branch)

    def put_object(
        self,
        repo: str,
        branch: str,
        path: str,
        data: Data,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
        if_match: Sequence[str] | None = None,
    ) -> Entry:
        r = self._staging_target(repo, branch)
        validate_path(path)
        view = self.views.view(r, branch)
        if if_absent and self.views.lookup(r, view, path) is not None:
            raise PreconditionFailedError(
                path, message=f"path {path!r} already exists on {branch!r}"
            )
        blob = self.blobs.put(r.namespace_key, data)
        entry = Entry(
            path=path,
            address=blob.address,
            size=blob.size,
            checksum=blob.checksum,
            content_type=content_type or "application/octet-stream",
            mtime=self._now(),
            metadata=dict(sorted((metadata or {}).items())),
        )
        if if_absent:
            self._stage_if_absent(r, branch, path, entry_to_record(entry))
        elif if_match is not None:
            tags = set(if_match)
            self._stage_if(
                r,
                branch,
                path,
                entry_to_record(entry),
                lambda cur: cur is not None and if_match_holds(tags, cur.checksum),
                "does not match If-Match",
            )
        else:
            self._stage(r, branch, [(path, entry_to_record(entry))])
        return entry

    def stage_entries(self, repo: str, branch: str, entries: Iterable[Entry]) -> int:
        """Link many existing entries at once (metadata only, like lakeFS's staging/backing)."""
        r = self._staging_target(repo, branch)
        changes: list[Change] = [(validate_path(e.path), entry_to_record(e)) for e in entries]
        self._stage(r, branch, changes)
        return len(changes)

    def delete_object(self, repo: str, branch: str, path: str) -> None:
        if self.delete_objects(repo, branch, [path]):
            raise NotFoundError(f"object {path!r} not found on {branch!r}")

    def delete_objects(self, repo: str, branch: str, paths: Sequence[str]) -> list[str]:
        r = self._staging_target(repo, branch)
        view = self.views.view(r, branch)
        missing = []
        for path in paths:
            validate_path(path)
            if self.views.lookup(r, view, path) is None:
                missing.append(path)
            else:
                self._stage(r, branch, [(path, None)])
        return missing

    def _found(self, repo: str, ref: str, path: str) -> tuple[RepoRecord, Entry]:
        r = self.repos.get(repo)
        record = self.views.lookup(r, self.views.view(r, ref), validate_path(path))
        if record is None:
            raise NotFoundError(f"object {path!r} not found at {ref!r}")
        return r, record_to_entry(record)

    def stat_object(self, repo: str, ref: str, path: str) -> Entry:
        return self._found(repo, ref, path)[1]

    def get_object(
        self, repo: str, ref: str, path: str, *, start: int | None = None, end: int | None = None
    ) -> Iterator[bytes]:
        return iter(self.open_object(repo, ref, path).read(start, end))

    def open_object(self, repo: str, ref: str, path: str) -> OpenObject:
        r, entry = self._found(repo, ref, path)
        blobs, namespace = self.blobs, r.namespace_key

        def read(start: int | None, end: int | None) -> ObjectStream:
            return blobs.open(namespace, entry.address, entry.external, start, end)

        return OpenObject(entry, read, blobs.file(namespace, entry.address, entry.external))

    def list_objects(
        self,
        repo: str,
        ref: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        amount: int = 1000,
    ) -> Listing:
        r = self.repos.get(repo)
        view = self.views.view(r, ref)
        items: list[Entry | CommonPrefix] = []
        last_prefix = ""
        record: Record
        for record in self.views.iterate(r, view, prefix=prefix, after=after):
            path = record.path
            if delimiter:
                cut = path.find(delimiter, len(prefix))
                if cut >= 0:
                    common = path[: cut + len(delimiter)]
                    if (
                        common == last_prefix
                        or (after and after.startswith(common))
                        or (after and common <= after)
                    ):
                        continue
                    last_prefix = common
                    if len(items) == amount:
                        return Listing(tuple(items), True, _offset(items[-1]))
                    items.append(CommonPrefix(common))
                    continue
            if len(items) == amount:
                return Listing(tuple(items), True, _offset(items[-1]))
            items.append(record_to_entry(record))
        return Listing(tuple(items), False, "")

    def copy_object(
        self, repo: str, branch: str, src_path: str, dest_path: str, *, src_ref: str | None = None
    ) -> Entry:
        r = self._staging_target(repo, branch)
        validate_path(dest_path)
        source = self.stat_object(repo, src_ref or branch, src_path)
        entry = Entry(
            path=dest_path,
            address=source.address,
            size=source.size,
            checksum=source.checksum,
            content_type=source.content_type,
            mtime=self._now(),
            metadata=source.metadata,
            external=source.external,
        )
        self._stage(r, branch, [(dest_path, entry_to_record(entry))])
        return entry
