"""Concurrent commits on one branch never lose an update."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sartiq_storage.adapters.datasets.kv import SqlKV
from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.stores import LocalStore
from sartiq_storage.datasets import NativeDatasetEngine, NoChangesError
from sartiq_storage.services import failpoints
from tests.support.datasets import paths, read
from tests.support.db import postgres_database, postgres_url, sqlite_database


def test_concurrent_writers_and_committers(engine: NativeDatasetEngine, repo: str) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(5):
                engine.put_object(repo, "main", f"w{n}/{i}", f"{n}-{i}".encode())
                # NoChangesError: another thread's commit took this write with it.
                with contextlib.suppress(NoChangesError):
                    engine.commit(repo, "main", f"w{n} {i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    expected = sorted(f"w{n}/{i}" for n in range(4) for i in range(5))
    assert paths(engine, repo, "main@") == expected
    assert engine.diff_uncommitted(repo, "main") == []


def test_two_engines_share_a_branch(memory_engine: NativeDatasetEngine) -> None:
    """Two engines on one KV and store stand in for two processes: CAS keeps both commits."""
    other = NativeDatasetEngine(memory_engine.kv, memory_engine.store)
    memory_engine.create_repository("shared", "datasets/shared")
    errors: list[BaseException] = []

    def worker(e: NativeDatasetEngine, name: str) -> None:
        try:
            for i in range(10):
                e.put_object("shared", "main", f"{name}/{i}", b"x")
                with contextlib.suppress(NoChangesError):
                    e.commit("shared", "main", f"{name} {i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(memory_engine, "a")),
        threading.Thread(target=worker, args=(other, "b")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(paths(memory_engine, "shared", "main@")) == 20


@contextlib.contextmanager
def _second_connection(db: Database) -> Iterator[Database]:
    """Another connection pool on the same database (and PostgreSQL schema), as a second
    process would open."""
    url = db.engine.url.render_as_string(hide_password=False)
    if db.is_postgres:
        with db.engine.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
        other = Database.from_url(
            postgres_url() or url, connect_args={"options": f"-csearch_path={schema}"}
        )
    else:
        other = Database.from_url(url)
    try:
        yield other
    finally:
        other.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def two_processes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[NativeDatasetEngine, NativeDatasetEngine]]:
    """Two engines with their own connections, locks and caches on one database and one
    store: two processes, as far as the engine can tell."""
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(
            sqlite_database(tmp_path) if request.param == "sqlite" else postgres_database()
        )
        other = stack.enter_context(_second_connection(db))
        yield (
            NativeDatasetEngine(SqlKV(db), LocalStore(tmp_path / "store")),
            NativeDatasetEngine(SqlKV(other), LocalStore(tmp_path / "store")),
        )


def test_a_commit_that_loses_the_race_never_replays_a_stale_change_list(
    two_processes: tuple[NativeDatasetEngine, NativeDatasetEngine],
) -> None:
    """A seals ``p=v1``; B then writes ``p=v2`` (acknowledged) and commits; A's commit must
    not put ``v1`` back over ``v2`` (it rebuilds from the sealed tokens as they are now)."""
    a, b = two_processes
    a.create_repository("race", "datasets/race")
    a.put_object("race", "main", "p", b"v1")
    a.put_object("race", "main", "q", b"from-a")
    interleaved: list[str] = []

    def other_process_writes_and_commits() -> None:
        if interleaved:  # B's own commit passes the same point
            return
        interleaved.append("b")
        b.put_object("race", "main", "p", b"v2")
        b.put_object("race", "main", "r", b"from-b")
        interleaved.append(b.commit("race", "main", "B").id)

    hold_a = failpoints.armed("datasets.commit.before_head_moves", other_process_writes_and_commits)
    # B's commit takes A's sealed changes along (lakeFS's rule), so A finds no changes left.
    with hold_a, pytest.raises(NoChangesError):
        a.commit("race", "main", "A")
    assert len(interleaved) == 2  # the interleaving really happened
    for engine in (a, b):
        assert read(engine, "race", "main@", "p") == b"v2"  # the acknowledged write
        assert read(engine, "race", "main@", "q") == b"from-a"
        assert read(engine, "race", "main@", "r") == b"from-b"
        assert engine.diff_uncommitted("race", "main") == []


def test_a_commit_rebuilt_on_a_moved_head_keeps_both_sides(
    two_processes: tuple[NativeDatasetEngine, NativeDatasetEngine],
) -> None:
    """B moves the head without touching staging (an import); A's sealed change, still
    sealed, is committed on top of B's commit, not beside it."""
    a, b = two_processes
    a.create_repository("race2", "datasets/race2")
    a.put_object("race2", "main", "p", b"v1")
    moved: list[str] = []

    def other_process_imports() -> None:
        if moved:
            return
        b.store.put("incoming/s", b"side")
        moved.append(
            b.import_prefix("race2", "main", "local://incoming", "imported/", message="i").id
        )

    with failpoints.armed("datasets.commit.before_head_moves", other_process_imports):
        commit = a.commit("race2", "main", "A")
    assert commit.parents == (moved[0],)
    assert read(b, "race2", "main@", "p") == b"v1"
    assert read(b, "race2", "main@", "imported/s") == b"side"
