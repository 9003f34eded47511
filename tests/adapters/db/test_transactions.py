"""run_transaction: a conflict starts the work over, anything else stops it (real SQLite)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.transactions import run_transaction
from sartiq_storage.core.errors import ConflictError


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database.from_url(f"sqlite:///{tmp_path / 'tx.sqlite'}")
    with db.session() as session:
        session.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY)"))
        session.execute(text("INSERT INTO item (id) VALUES (1)"))
    yield db
    db.dispose()


def _count(db: Database) -> int:
    with db.session() as session:
        return int(session.execute(text("SELECT count(*) FROM item")).scalar_one())


def test_a_conflict_rolls_back_and_runs_the_work_again(database: Database) -> None:
    calls: list[int] = []

    def work(session: Session) -> str:
        calls.append(1)
        session.execute(text("INSERT INTO item (id) VALUES (2)"))
        if len(calls) < 3:  # the first two meet the primary key: a race lost
            session.execute(text("INSERT INTO item (id) VALUES (1)"))
        return "done"

    assert run_transaction(database, work) == "done"
    assert len(calls) == 3
    assert _count(database) == 2  # the failed attempts' inserts were rolled back


def test_giving_up_is_a_conflict_error_without_driver_detail(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def work(session: Session) -> None:
        calls.append(1)
        session.execute(text("INSERT INTO item (id) VALUES (1)"))

    with (
        caplog.at_level(logging.WARNING, "sartiq_storage.adapters.db.transactions"),
        pytest.raises(ConflictError) as raised,
    ):
        run_transaction(database, work, attempts=3)
    assert len(calls) == 3
    assert str(raised.value) == "gave up after 3 conflicting attempts; try again"
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__
    (record,) = caplog.records
    assert record.getMessage().startswith("gave up after 3 conflicting attempts: ")
    assert "UNIQUE constraint failed" in record.getMessage()  # the detail is logged


def test_eight_attempts_by_default(database: Database) -> None:
    calls: list[int] = []

    def work(session: Session) -> None:
        calls.append(1)
        session.execute(text("INSERT INTO item (id) VALUES (1)"))

    with pytest.raises(ConflictError, match="gave up after 8 conflicting attempts"):
        run_transaction(database, work)
    assert len(calls) == 8


def test_other_errors_propagate_at_once_and_roll_back(database: Database) -> None:
    calls: list[int] = []

    def work(session: Session) -> None:
        calls.append(1)
        session.execute(text("INSERT INTO item (id) VALUES (3)"))
        raise LookupError("not a conflict")

    with pytest.raises(LookupError, match="not a conflict"):
        run_transaction(database, work)
    assert len(calls) == 1
    assert _count(database) == 1
