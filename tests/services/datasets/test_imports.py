"""Imports as jobs: progress saved per batch, resumed after a crash, cancelled before commit."""

from __future__ import annotations

import pytest

from sartiq_storage.adapters.datasets.kv import MemoryKV
from sartiq_storage.adapters.stores import MemoryStore
from sartiq_storage.core.datasets.errors import AlreadyExistsError, NotFoundError
from sartiq_storage.services import failpoints
from sartiq_storage.services.datasets import NativeDatasetEngine
from sartiq_storage.services.datasets.imports import ImportJob, ImportSource

COUNT = 23


@pytest.fixture
def engine() -> NativeDatasetEngine:
    made = NativeDatasetEngine(MemoryKV(), MemoryStore())
    for i in range(COUNT):
        made.store.put(f"source/{i:03}.txt", f"s{i}".encode())
    made.store.put("one.csv", b"a,b\n")
    made.create_repository("rep", "datasets/rep")
    return made


def _start(engine: NativeDatasetEngine) -> str:
    return engine.start_import(
        "rep",
        "main",
        [
            ImportSource("common_prefix", "source/", "in/"),
            ImportSource("object", "one.csv", "tables/one.csv"),
        ],
        message="import",
    )


def test_progress_is_saved_per_batch_and_the_commit_comes_last(
    engine: NativeDatasetEngine,
) -> None:
    seen: list[ImportJob] = []
    job = engine.run_import("rep", _start(engine), progress=seen.append, batch=5)
    assert job.completed
    assert job.ingested == COUNT + 1
    assert [j.ingested for j in seen if j.state == "running"] == [5, 10, 15, 20, 23, 24]
    assert job.commit is not None
    paths = [e.path for e in engine.list_objects("rep", "main").items]  # type: ignore[union-attr]
    assert len(paths) == COUNT + 1
    assert engine.stat_object("rep", "main", "tables/one.csv").external


def test_a_crashed_runner_is_continued_from_its_cursor(engine: NativeDatasetEngine) -> None:
    import_id = _start(engine)
    calls = 0

    def crash_on_third() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise failpoints.InjectedFailure("crash")

    with (
        failpoints.armed("datasets.import.batch", crash_on_third),
        pytest.raises(failpoints.InjectedFailure),
    ):
        engine.run_import("rep", import_id, batch=5)
    stopped = engine.import_status("rep", import_id)
    assert (stopped.state, stopped.ingested) == ("running", 15)
    assert engine.pending_imports() == [("rep", import_id)]
    listed: list[int] = []
    job = engine.run_import("rep", import_id, batch=5, progress=lambda j: listed.append(j.ingested))
    assert job.completed
    assert job.ingested == COUNT + 1
    assert listed[0] == 20  # continued, not restarted
    assert len(engine.list_objects("rep", "main").items) == COUNT + 1
    assert engine.pending_imports() == []


def test_cancel_stops_before_the_commit(engine: NativeDatasetEngine) -> None:
    import_id = _start(engine)
    head = engine.get_branch("rep", "main").commit_id
    with failpoints.armed("datasets.import.batch", lambda: engine.cancel_import("rep", import_id)):
        job = engine.run_import("rep", import_id, batch=5)
    assert (job.state, job.completed, job.error) == ("canceled", False, "Canceled")
    assert engine.get_branch("rep", "main").commit_id == head
    engine.cancel_import("rep", import_id)  # still not completed: marked again, no error


def test_cancelling_a_completed_import_is_a_conflict(engine: NativeDatasetEngine) -> None:
    import_id = _start(engine)
    engine.run_import("rep", import_id)
    with pytest.raises(AlreadyExistsError, match="import already completed"):
        engine.cancel_import("rep", import_id)
    with pytest.raises(NotFoundError):
        engine.import_status("rep", import_id, branch="other")
    with pytest.raises(NotFoundError):
        engine.import_status("rep", "nope")


def test_a_failed_source_is_reported_not_raised(engine: NativeDatasetEngine) -> None:
    import_id = engine.start_import(
        "rep", "main", [ImportSource("object", "missing.csv", "m.csv")], message="m"
    )
    job = engine.run_import("rep", import_id)
    assert job.state == "failed"
    assert job.error is not None
    assert "not found" in job.error
