"""Object calls on lakeFS: uploads and downloads stream through raw requests."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence

import lakefs_sdk
from lakefs_sdk.exceptions import ApiException

from sartiq_storage.adapters.datasets.lakefs.connection import META_PREFIX, PAGE, LakeFSConnection
from sartiq_storage.adapters.datasets.lakefs.convert import spool, to_entry
from sartiq_storage.adapters.datasets.lakefs.errors import map_error, mapped
from sartiq_storage.core.datasets import errors as e
from sartiq_storage.core.datasets.model import (
    CommonPrefix,
    Entry,
    Listing,
    OpenObject,
    if_match_holds,
)
from sartiq_storage.core.datasets.protocol import Data


class ObjectCalls(LakeFSConnection):
    """Objects: one SDK call each, bytes through :meth:`_raw` so they stream."""

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
        if if_match is not None:
            # lakeFS has no conditional overwrite: checked before the upload, not atomically.
            current = self.stat_object(repo, branch, path)
            if not if_match_holds(if_match, current.checksum):
                raise e.PreconditionFailedError(path, message=f"path {path!r} does not match")
        body, size = spool(data)
        headers = {
            "Accept": "application/json",
            "Content-Type": content_type or "application/octet-stream",
            "Content-Length": str(size),
        }
        if if_absent:
            headers["If-None-Match"] = "*"
        for key, value in (metadata or {}).items():
            headers[META_PREFIX + key.lower()] = value
        with body:
            answer = self._raw(
                "POST",
                f"/repositories/{repo}/branches/{branch}/objects",
                {"path": path},
                headers,
                body,
            )
        if isinstance(answer, ApiException):
            raise map_error(answer)
        try:
            stats = lakefs_sdk.ObjectStats.from_dict(json.loads(answer.read()))
        finally:
            answer.release_conn()
        return to_entry(stats)

    def delete_object(self, repo: str, branch: str, path: str) -> None:
        """lakeFS ignores missing paths; we report them, as the protocol says."""
        self.stat_object(repo, branch, path)
        with mapped():
            self._client.objects_api.delete_object(repo, branch, path)

    def delete_objects(self, repo: str, branch: str, paths: Sequence[str]) -> list[str]:
        missing: list[str] = []
        for path in paths:
            try:
                self.stat_object(repo, branch, path)
            except e.NotFoundError:
                missing.append(path)
        present = [p for p in paths if p not in set(missing)]
        for start in range(0, len(present), PAGE):
            with mapped():
                self._client.objects_api.delete_objects(
                    repo, branch, lakefs_sdk.PathList(paths=present[start : start + PAGE])
                )
        return missing

    def stat_object(self, repo: str, ref: str, path: str) -> Entry:
        with mapped():
            return to_entry(self._client.objects_api.stat_object(repo, ref, path))

    def get_object(
        self, repo: str, ref: str, path: str, *, start: int | None = None, end: int | None = None
    ) -> Iterator[bytes]:
        """The request is made now (errors surface here); the bytes stream as iterated."""
        headers: dict[str, str] = {}
        if start is not None or end is not None:
            first = start or 0
            if end is not None and end <= first:
                return iter(())
            headers["Range"] = f"bytes={first}-{'' if end is None else end - 1}"
        answer = self._raw(
            "GET", f"/repositories/{repo}/refs/{ref}/objects", {"path": path}, headers
        )
        if isinstance(answer, ApiException):
            if answer.status == 416:
                return iter(())
            raise map_error(answer)
        return self._stream(answer)

    def open_object(self, repo: str, ref: str, path: str) -> OpenObject:
        """A stat, then reads of the path: two requests to a real lakeFS, whose API has no
        read by address (the native engine pairs the entry and its bytes exactly)."""
        entry = self.stat_object(repo, ref, path)

        def read(start: int | None, end: int | None) -> Iterator[bytes]:
            return self.get_object(repo, ref, path, start=start, end=end)

        return OpenObject(entry, read)

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
        with mapped():
            page = self._client.objects_api.list_objects(
                repo,
                ref,
                prefix=prefix,
                delimiter=delimiter,
                after=after,
                amount=min(max(amount, 1), PAGE),
            )
        items: list[Entry | CommonPrefix] = [
            CommonPrefix(path=s.path) if s.path_type == "common_prefix" else to_entry(s)
            for s in page.results
        ]
        return Listing(
            items=tuple(items),
            has_more=page.pagination.has_more,
            next_offset=page.pagination.next_offset if page.pagination.has_more else "",
        )

    def copy_object(
        self, repo: str, branch: str, src_path: str, dest_path: str, *, src_ref: str | None = None
    ) -> Entry:
        creation = lakefs_sdk.ObjectCopyCreation(
            src_path=src_path, src_ref=src_ref or branch, force=False, shallow=False
        )
        with mapped():
            return to_entry(self._client.objects_api.copy_object(repo, branch, dest_path, creation))
