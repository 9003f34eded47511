"""Property test: random put/delete/commit/branch/merge agree with a dict-snapshot model."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from sartiq_storage.adapters.datasets.kv import KV, MemoryKV
from sartiq_storage.adapters.stores import MemoryStore
from sartiq_storage.core.datasets.merge import merge_outcome
from sartiq_storage.datasets import MergeConflictError, NativeDatasetEngine, NoChangesError
from sartiq_storage.testing.moto_server import moto_dynamo_kv
from tests.support.datasets import snapshot

REPO = "model"
PATHS = st.sampled_from(["a", "b", "c/1", "c/2", "d"])
VALUES = st.sampled_from([b"1", b"2", b"3"])
BRANCHES = st.sampled_from(["main", "b1", "b2"])


class DatasetModel(RuleBasedStateMachine):
    def new_kv(self) -> KV:
        """The metadata store of one example (a subclass runs the model on DynamoDB)."""
        return MemoryKV()

    def __init__(self) -> None:
        super().__init__()
        self.engine = NativeDatasetEngine(self.new_kv(), MemoryStore())
        self.engine.create_repository(REPO, "datasets/model")
        created = self.engine.get_branch(REPO, "main").commit_id
        self.commits: dict[str, dict[str, bytes]] = {created: {}}
        self.heads: dict[str, str] = {"main": created}
        self.staged: dict[str, dict[str, bytes]] = {"main": {}}

    @rule(branch=BRANCHES, path=PATHS, value=VALUES)
    def put(self, branch: str, path: str, value: bytes) -> None:
        if branch in self.heads:
            self.engine.put_object(REPO, branch, path, value)
            self.staged[branch][path] = value

    @rule(branch=BRANCHES, path=PATHS)
    def delete(self, branch: str, path: str) -> None:
        if branch in self.heads and path in self.staged[branch]:
            self.engine.delete_object(REPO, branch, path)
            del self.staged[branch][path]

    @rule(branch=BRANCHES)
    def commit(self, branch: str) -> None:
        if branch not in self.heads:
            return
        if self.staged[branch] == self.commits[self.heads[branch]]:
            try:
                self.engine.commit(REPO, branch, "c")
            except NoChangesError:
                return
            raise AssertionError("expected NoChangesError")
        commit = self.engine.commit(REPO, branch, "c")
        self.commits[commit.id] = dict(self.staged[branch])
        self.heads[branch] = commit.id

    @rule(name=BRANCHES, source=BRANCHES)
    def branch(self, name: str, source: str) -> None:
        if name not in self.heads and source in self.heads:
            self.engine.create_branch(REPO, name, source)
            self.heads[name] = self.heads[source]
            self.staged[name] = dict(self.commits[self.heads[source]])

    @precondition(lambda self: len(self.heads) > 1)
    @rule(source=BRANCHES, dest=BRANCHES)
    def merge(self, source: str, dest: str) -> None:
        if source == dest or source not in self.heads or dest not in self.heads:
            return
        if self.staged[dest] != self.commits[self.heads[dest]]:
            return  # dirty destination: covered by the example tests
        base_id = self.engine.merge_base(REPO, self.heads[source], self.heads[dest]).id
        base = self.commits[base_id]
        src = self.commits[self.heads[source]]
        dst = self.commits[self.heads[dest]]
        result, conflict = dict(dst), False
        for path in set(base) | set(src) | set(dst):
            outcome = merge_outcome(base.get(path), src.get(path), dst.get(path))  # type: ignore[arg-type]
            if outcome == "conflict":
                conflict = True
            elif outcome == "source":
                if path in src:
                    result[path] = src[path]
                else:
                    result.pop(path, None)
        try:
            merged = self.engine.merge(REPO, source, dest, allow_empty=True)
        except MergeConflictError:
            assert conflict
            return
        assert not conflict
        self.commits[merged.id] = result
        self.heads[dest] = merged.id
        self.staged[dest] = dict(result)

    @invariant()
    def agrees(self) -> None:
        for branch, head in self.heads.items():
            assert snapshot(self.engine, REPO, f"{branch}@") == self.commits[head]
            assert snapshot(self.engine, REPO, branch) == self.staged[branch]


DatasetModel.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestDatasetModel = DatasetModel.TestCase


def test_the_model_on_dynamodb(moto_endpoint: str) -> None:
    """The same machine with DynamoDB (moto's server) as the metadata store, a fresh table
    per example; fewer examples, as each step is a few round trips."""

    class OnDynamo(DatasetModel):
        def new_kv(self) -> KV:
            return moto_dynamo_kv(moto_endpoint)

        def teardown(self) -> None:
            self.engine.kv.close()

    run_state_machine_as_test(
        OnDynamo, settings=settings(max_examples=8, stateful_step_count=20, deadline=None)
    )
