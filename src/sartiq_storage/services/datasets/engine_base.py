"""What the engine's operation groups share: the managers they orchestrate.

:class:`~.engine.NativeDatasetEngine` is assembled from small operation classes (objects,
versions, and its own repository/branch/tag methods), each using only these parts, so no
class carries the whole lakeFS surface.
"""

from __future__ import annotations

from collections.abc import Callable

from sartiq_storage.adapters.datasets.kv import KV
from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.core.datasets.names import validate_branch_name
from sartiq_storage.services.datasets.blobs import Blobs
from sartiq_storage.services.datasets.branches import Branches
from sartiq_storage.services.datasets.commit_graph import CommitGraph
from sartiq_storage.services.datasets.commits import Committer
from sartiq_storage.services.datasets.committed import CommittedStore
from sartiq_storage.services.datasets.locations import NamespaceStores
from sartiq_storage.services.datasets.records import RepoRecord
from sartiq_storage.services.datasets.refs import RefResolver
from sartiq_storage.services.datasets.repositories import Repositories
from sartiq_storage.services.datasets.staging import Staging
from sartiq_storage.services.datasets.views import Views


class EngineParts:
    """The managers (graveler's RefManager, CommittedManager, StagingManager, BranchLocker)."""

    kv: KV
    store: ObjectStore
    stores: NamespaceStores
    import_batch: int
    clock: Callable[[], float]
    repos: Repositories
    refs: RefResolver
    branches: Branches
    graph: CommitGraph
    committed: CommittedStore
    staging: Staging
    views: Views
    blobs: Blobs
    committer: Committer

    def _now(self) -> int:
        return int(self.clock())

    def _writable_repo(self, repo: str) -> RepoRecord:
        r = self.repos.get(repo)
        self.repos.check_writable(r)
        return r

    def _staging_target(self, repo: str, branch: str) -> RepoRecord:
        """The repository a write to ``branch`` may go to (writable, branch unprotected)."""
        r = self._writable_repo(repo)
        validate_branch_name(branch)
        self.repos.check_unprotected(r, branch)
        self.branches.get(r, branch)
        return r
