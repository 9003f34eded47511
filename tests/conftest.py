"""Shared fixtures: real moto server, fresh buckets, the three store backends."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.stores import LocalStore, MemoryStore, ObjectStore, S3Store
from sartiq_storage.core.signing import UrlSigner
from tests.support.artifacts import CONSOLE_SCREENSHOTS
from tests.support.db import postgres_database, sqlite_database
from tests.support.error_bodies import watching_httpx
from tests.support.moto_server import moto_client, moto_server, moto_store

_STARTED = time.time()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where this run's console screenshots are (the browser tests write them)."""
    shots = [p for p in CONSOLE_SCREENSHOTS.glob("*.png") if p.stat().st_mtime >= _STARTED]
    if shots:
        terminalreporter.write_line(f"console screenshots ({len(shots)}): {CONSOLE_SCREENSHOTS}")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the developer's own settings or .env."""
    for name in list(os.environ):
        if name.startswith(
            ("R2_", "STORAGE_", "CDN_", "AUTH_", "CLOUDFLARE_", "LAKEFS_")
        ) or name in (
            "ENVIRONMENT",
            "DATABASE_URL",
            "WEB_APP_ORIGINS",
            "LOG_FORMAT",
            "LOG_LEVEL",
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _no_internals_in_error_bodies() -> Iterator[None]:
    """Fail a test that received an error answer quoting the database, the driver or a
    traceback (``tests/support/error_bodies.py``)."""
    with watching_httpx() as watch:
        yield
    assert watch.found == [], "an answer carries internals:\n" + "\n".join(watch.found)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


def make_bucket(endpoint: str) -> str:
    name = f"test-{uuid.uuid4().hex[:20]}"
    client = moto_client(endpoint)
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    return make_bucket(s3_endpoint)


@pytest.fixture
def s3_store(s3_endpoint: str, s3_bucket: str) -> Iterator[S3Store]:
    store = moto_store(s3_endpoint, s3_bucket)
    yield store
    store.close()


@pytest.fixture
def signer() -> UrlSigner:
    return UrlSigner("test-signing-secret", "http://127.0.0.1:8000")


@pytest.fixture(params=["memory", "local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, signer: UrlSigner) -> ObjectStore:
    """Each contract test runs once per backend."""
    if request.param == "memory":
        return MemoryStore(signer=signer)
    if request.param == "local":
        return LocalStore(tmp_path / "store", signer=signer)
    return request.getfixturevalue("s3_store")  # type: ignore[no-any-return]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """Each database test runs on SQLite and, where reachable, on PostgreSQL."""
    if request.param == "sqlite":
        with sqlite_database(tmp_path) as database:
            yield database
    else:
        with postgres_database() as database:
            yield database
