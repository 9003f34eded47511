"""``DatasetStore`` over a lakeFS server (a real one, or this service's compatible API).

Calls go through the official ``lakefs_sdk`` client. Its ``ApiException`` statuses become our
typed errors; lakeFS's 400 and 403 cover several causes, told apart by lakeFS's own wording.
Object bytes move through raw requests on the SDK's connection pool (as the high-level SDK
does) so uploads and downloads stream instead of sitting in memory.
"""

from __future__ import annotations

from collections.abc import Sequence

import lakefs_sdk

from sartiq_storage.adapters.datasets.lakefs.convert import to_repository
from sartiq_storage.adapters.datasets.lakefs.errors import mapped
from sartiq_storage.adapters.datasets.lakefs.objects import ObjectCalls
from sartiq_storage.adapters.datasets.lakefs.versions import VersionCalls
from sartiq_storage.core.datasets import errors as e
from sartiq_storage.core.datasets.model import (
    Branch,
    GcReport,
    GcRules,
    ReflogEntry,
    Repository,
    Tag,
)
from sartiq_storage.core.datasets.protocol import ResetType


class LakeFSEngine(ObjectCalls, VersionCalls):
    """The lakeFS-backed engine: every operation is one or a few lakeFS API calls.

    ``namespace_prefix`` completes storage namespaces given without a scheme
    (``s3://garment-accuracy/repos`` + ``/ds`` for ``create_repository("x", "ds")``).
    """

    # -- repositories ------------------------------------------------------------------------

    def create_repository(
        self,
        name: str,
        storage_namespace: str,
        *,
        default_branch: str = "main",
        read_only: bool = False,
        committer: str = "sartiq-storage",
    ) -> Repository:
        namespace = self._namespace(storage_namespace)
        self._check_namespace(namespace)
        creation = lakefs_sdk.RepositoryCreation(
            name=name,
            storage_namespace=namespace,
            default_branch=default_branch,
            read_only=read_only,
            sample_data=False,
            storage_id=None,
        )
        with mapped():
            return to_repository(self._client.repositories_api.create_repository(creation))

    def get_repository(self, name: str) -> Repository:
        with mapped():
            return to_repository(self._client.repositories_api.get_repository(name))

    def list_repositories(self, *, after: str = "", amount: int = 100) -> list[Repository]:
        api = self._client.repositories_api
        found = self._pages(lambda a, n: api.list_repositories(after=a, amount=n), amount, after)
        return [to_repository(r) for r in found]

    def delete_repository(self, name: str) -> None:
        with mapped():
            self._client.repositories_api.delete_repository(name)

    # -- branches ----------------------------------------------------------------------------

    def create_branch(
        self, repo: str, name: str, source_ref: str, *, hidden: bool = False
    ) -> Branch:
        with mapped():
            commit_id = self._client.branches_api.create_branch(
                repo,
                lakefs_sdk.BranchCreation(name=name, source=source_ref, force=False, hidden=hidden),
            )
        return Branch(name=name, commit_id=str(commit_id).strip())

    def get_branch(self, repo: str, name: str) -> Branch:
        with mapped():
            ref = self._client.branches_api.get_branch(repo, name)
        return Branch(name=ref.id, commit_id=ref.commit_id)

    def list_branches(
        self,
        repo: str,
        *,
        prefix: str = "",
        after: str = "",
        amount: int = 100,
        show_hidden: bool = False,
    ) -> list[Branch]:
        api = self._client.branches_api
        found = self._pages(
            lambda a, n: api.list_branches(
                repo, prefix=prefix, after=a, amount=n, show_hidden=show_hidden
            ),
            amount,
            after,
        )
        return [Branch(name=r.id, commit_id=r.commit_id) for r in found]

    def delete_branch(self, repo: str, name: str) -> None:
        with mapped():
            self._client.branches_api.delete_branch(repo, name)

    def reset_changes(
        self, repo: str, branch: str, type: ResetType = "reset", path: str | None = None
    ) -> None:
        with mapped():
            self._client.branches_api.reset_branch(
                repo, branch, lakefs_sdk.ResetCreation(type=type, path=path)
            )

    def hard_reset(
        self, repo: str, branch: str, ref: str, *, force: bool = False, actor: str = ""
    ) -> Branch:
        with mapped():
            self._client.experimental_api.hard_reset_branch(repo, branch, ref, force=force)
        return self.get_branch(repo, branch)

    def reflog(self, repo: str, branch: str) -> list[ReflogEntry]:
        """lakeFS keeps no reflog: there is never anything to report."""
        self.get_branch(repo, branch)
        return []

    # -- tags --------------------------------------------------------------------------------

    def create_tag(self, repo: str, name: str, ref: str, *, force: bool = False) -> Tag:
        with mapped():
            made = self._client.tags_api.create_tag(
                repo, lakefs_sdk.TagCreation(id=name, ref=ref, force=force)
            )
        return Tag(name=made.id, commit_id=made.commit_id)

    def get_tag(self, repo: str, name: str) -> Tag:
        with mapped():
            ref = self._client.tags_api.get_tag(repo, name)
        return Tag(name=ref.id, commit_id=ref.commit_id)

    def list_tags(
        self, repo: str, *, prefix: str = "", after: str = "", amount: int = 100
    ) -> list[Tag]:
        api = self._client.tags_api
        found = self._pages(
            lambda a, n: api.list_tags(repo, prefix=prefix, after=a, amount=n), amount, after
        )
        return [Tag(name=r.id, commit_id=r.commit_id) for r in found]

    def delete_tag(self, repo: str, name: str) -> None:
        with mapped():
            self._client.tags_api.delete_tag(repo, name)

    # -- administration ----------------------------------------------------------------------

    def get_gc_rules(self, repo: str) -> GcRules:
        with mapped():
            rules = self._client.repositories_api.get_gc_rules(repo)
        return GcRules(
            default_retention_days=rules.default_retention_days,
            branches={b.branch_id: b.retention_days for b in rules.branches},
        )

    def set_gc_rules(self, repo: str, rules: GcRules) -> None:
        body = lakefs_sdk.GarbageCollectionRules(
            default_retention_days=rules.default_retention_days,
            branches=[
                lakefs_sdk.GarbageCollectionRule(branch_id=b, retention_days=d)
                for b, d in rules.branches.items()
            ],
        )
        with mapped():
            self._client.repositories_api.set_gc_rules(repo, body)

    def gc(self, repo: str, *, dry_run: bool = True, grace_seconds: int = 6 * 3600) -> GcReport:
        """lakeFS collects garbage in its own job (Spark, or lakeFS Cloud): not from here."""
        self.get_repository(repo)
        raise e.InvalidArgumentError(
            "garbage collection on lakeFS runs as lakeFS's own GC job; set the rules here"
        )

    def get_branch_protection(self, repo: str) -> list[str]:
        with mapped():
            rules = self._client.repositories_api.get_branch_protection_rules(repo)
        return [r.pattern for r in rules]

    def set_branch_protection(
        self, repo: str, patterns: Sequence[str], *, expected: Sequence[str] | None = None
    ) -> None:
        rules = [lakefs_sdk.BranchProtectionRule(pattern=p) for p in patterns]
        api = self._client.repositories_api
        with mapped():
            if expected is None:
                api.set_branch_protection_rules(repo, rules)
                return
            # lakeFS's own compare-and-set: its ETag of the rules read, sent as If-Match.
            read = api.get_branch_protection_rules_with_http_info(repo)
            if [r.pattern for r in read.data or []] != list(expected):
                raise e.PreconditionFailedError(
                    message="branch protection rules changed since they were read"
                )
            etag = (read.headers or {}).get("ETag") or '""'
            api.set_branch_protection_rules(repo, rules, if_match=etag)
