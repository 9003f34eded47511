"""Version calls on lakeFS: commit, log, diff, merge, revert, cherry-pick, import."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Literal

import lakefs_sdk
from lakefs_sdk.exceptions import ApiException

from sartiq_storage.adapters.datasets.lakefs.connection import LakeFSConnection
from sartiq_storage.adapters.datasets.lakefs.convert import overrides, to_commit, to_diff
from sartiq_storage.adapters.datasets.lakefs.errors import map_error, mapped
from sartiq_storage.core.datasets import errors as e
from sartiq_storage.core.datasets.model import Commit, DiffEntry, MergeStrategy
from sartiq_storage.core.datasets.protocol import DiffMode


class VersionCalls(LakeFSConnection):
    """Commits, history, diffs and merges; imports wait for lakeFS's asynchronous job."""

    def commit(
        self,
        repo: str,
        branch: str,
        message: str,
        *,
        committer: str = "sartiq-storage",
        metadata: Mapping[str, str] | None = None,
        allow_empty: bool = False,
        date: int | None = None,
    ) -> Commit:
        """lakeFS records the authenticated user as committer; ``committer`` is not sent."""
        creation = lakefs_sdk.CommitCreation(
            message=message, metadata=dict(metadata or {}), allow_empty=allow_empty, date=date
        )
        with mapped():
            return to_commit(self._client.commits_api.commit(repo, branch, creation))

    def get_commit(self, repo: str, commit_id: str) -> Commit:
        with mapped():
            return to_commit(self._client.commits_api.get_commit(repo, commit_id))

    def log(
        self,
        repo: str,
        ref: str,
        *,
        amount: int = 100,
        after: str = "",
        objects: Sequence[str] = (),
        prefixes: Sequence[str] = (),
        first_parent: bool = False,
    ) -> list[Commit]:
        api = self._client.refs_api
        found = self._pages(
            lambda a, n: api.log_commits(
                repo,
                ref,
                after=a,
                amount=n,
                objects=list(objects) or None,
                prefixes=list(prefixes) or None,
                first_parent=first_parent,
            ),
            amount,
            after,
        )
        return [to_commit(c) for c in found]

    def diff(
        self,
        repo: str,
        left_ref: str,
        right_ref: str,
        *,
        mode: DiffMode = "three_dot",
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        amount: int = 1000,
    ) -> list[DiffEntry]:
        api = self._client.refs_api
        found = self._pages(
            lambda a, n: api.diff_refs(
                repo,
                left_ref,
                right_ref,
                after=a,
                amount=n,
                prefix=prefix,
                delimiter=delimiter,
                type=mode,
            ),
            amount,
            after,
        )
        return [to_diff(d) for d in found]

    def diff_uncommitted(
        self,
        repo: str,
        branch: str,
        *,
        prefix: str = "",
        after: str = "",
        amount: int = 1000,
        delimiter: str = "",
    ) -> list[DiffEntry]:
        api = self._client.branches_api
        found = self._pages(
            lambda a, n: api.diff_branch(
                repo, branch, after=a, amount=n, prefix=prefix, delimiter=delimiter
            ),
            amount,
            after,
        )
        return [to_diff(d) for d in found]

    def merge_base(self, repo: str, left_ref: str, right_ref: str) -> Commit:
        with mapped():
            found = self._client.refs_api.find_merge_base(repo, right_ref, left_ref)
        return self.get_commit(repo, found.base_commit_id)

    def merge(
        self,
        repo: str,
        source_ref: str,
        dest_branch: str,
        *,
        message: str | None = None,
        committer: str = "sartiq-storage",
        metadata: Mapping[str, str] | None = None,
        strategy: MergeStrategy | None = None,
        resolutions: Mapping[str, Literal["source", "dest"]] | None = None,
        allow_empty: bool = False,
        force: bool = False,
        squash: bool = False,
    ) -> Commit:
        """On 409, a three-dot diff lists the conflicts lakeFS's answer leaves out."""
        if resolutions:
            raise e.InvalidArgumentError(
                "lakeFS has no per-path conflict resolutions (lakeFS #3639)"
            )
        body = lakefs_sdk.Merge(
            message=message,
            metadata=dict(metadata or {}),
            strategy=strategy,
            force=force,
            allow_empty=allow_empty,
            squash_merge=squash,
        )
        try:
            result = self._client.refs_api.merge_into_branch(repo, source_ref, dest_branch, body)
        except ApiException as exc:
            error = map_error(exc)
            if isinstance(error, e.MergeConflictError):
                raise self._conflicts(repo, source_ref, dest_branch) from None
            raise error from None
        return self.get_commit(repo, result.reference)

    def _conflicts(self, repo: str, source_ref: str, dest_branch: str) -> e.MergeConflictError:
        entries = self.diff(repo, dest_branch, source_ref, mode="three_dot", amount=10**9)
        return e.MergeConflictError(sorted(d.path for d in entries if d.type == "conflict"))

    def revert(
        self,
        repo: str,
        branch: str,
        ref: str,
        *,
        parent_number: int = 0,
        committer: str = "sartiq-storage",
        allow_empty: bool = False,
        force: bool = False,
        message: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Commit:
        creation = lakefs_sdk.RevertCreation(
            ref=ref,
            parent_number=parent_number,
            allow_empty=allow_empty,
            force=force,
            commit_overrides=overrides(message, metadata),
        )
        with mapped():
            self._client.branches_api.revert_branch(repo, branch, creation)
        return self.get_commit(repo, branch)

    def cherry_pick(
        self,
        repo: str,
        branch: str,
        ref: str,
        *,
        parent_number: int = 0,
        committer: str = "sartiq-storage",
        message: str | None = None,
        metadata: Mapping[str, str] | None = None,
        force: bool = False,
    ) -> Commit:
        creation = lakefs_sdk.CherryPickCreation(
            ref=ref,
            parent_number=parent_number or None,
            force=force,
            commit_overrides=overrides(message, metadata),
        )
        with mapped():
            made = self._client.branches_api.cherry_pick(repo, branch, creation)
        return self.get_commit(repo, made.id)

    def resolve(self, repo: str, ref: str) -> str:
        return self.get_commit(repo, ref).id

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
        """Start lakeFS's import job and wait for it (lakeFS's imports are asynchronous)."""
        creation = lakefs_sdk.ImportCreation(
            paths=[
                lakefs_sdk.ImportLocation(
                    type="common_prefix", path=source, destination=destination
                )
            ],
            commit=lakefs_sdk.CommitCreation(
                message=message,
                metadata=dict(metadata or {}),
                date=None,
                allow_empty=False,
                force=False,
            ),
        )
        api = self._client.import_api
        with mapped():
            started = api.import_start(repo, branch, creation)
        deadline = time.monotonic() + self._import_timeout
        while True:
            with mapped():
                status = api.import_status(repo, branch, started.id)
            if status.error is not None:
                raise e.InvalidArgumentError(f"import failed: {status.error.message}")
            if status.completed and status.commit is not None:
                return to_commit(status.commit)
            if time.monotonic() > deadline:
                raise e.TooManyRetriesError(f"import {started.id} still running after the timeout")
            time.sleep(self._poll)
