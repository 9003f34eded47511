"""Shared fixtures: real S3 servers (moto, SeaweedFS), fresh buckets, the store backends."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.stores import LocalStore, MemoryStore, ObjectStore, S3Store
from sartiq_storage.core.signing import UrlSigner
from sartiq_storage.testing.moto_server import make_bucket, moto_server, moto_store
from tests.support.artifacts import CONSOLE_SCREENSHOTS
from tests.support.db import postgres_database, sqlite_database
from tests.support.error_bodies import watching_httpx
from tests.support.s3_servers import S3Server, ServerName, register, selected_servers
from tests.support.seaweedfs import seaweedfs_server, unavailable

# Fixtures that tests in several folders use (a folder's own stay in its conftest.py).
pytest_plugins = ["tests.support.lifecycle"]

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


try:
    S3_SERVERS = selected_servers()
    """The S3 servers that ``SARTIQ_TEST_S3`` selects (``tests/support/s3_servers.py``)."""
except ValueError as exc:
    raise pytest.UsageError(str(exc)) from None


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        register(S3Server("moto", endpoint))
        yield endpoint


@pytest.fixture(scope="session")
def seaweedfs_endpoint() -> Iterator[str]:
    """SeaweedFS, started once per session (per xdist worker); skipped where it cannot run."""
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    with seaweedfs_server() as endpoint:
        register(S3Server("seaweedfs", endpoint))
        yield endpoint


@pytest.fixture(scope="session")
def s3_endpoint(request: pytest.FixtureRequest) -> str:
    """The S3 server of the suites that run on one: moto, or SeaweedFS when only it is
    selected (``SARTIQ_TEST_S3=seaweedfs``)."""
    name = "seaweedfs" if S3_SERVERS == ("seaweedfs",) else "moto"
    return str(request.getfixturevalue(f"{name}_endpoint"))


@pytest.fixture(params=S3_SERVERS)
def s3_server(request: pytest.FixtureRequest) -> S3Server:
    """Each selected S3 server in turn (``SARTIQ_TEST_S3``: moto, seaweedfs, both)."""
    name: ServerName = request.param
    return S3Server(name, str(request.getfixturevalue(f"{name}_endpoint")))


@pytest.fixture
def server_bucket(s3_server: S3Server) -> str:
    """A fresh bucket on ``s3_server``."""
    return make_bucket(s3_server.endpoint)


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


@pytest.fixture(params=["memory", "local", *S3_SERVERS])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, signer: UrlSigner
) -> Iterator[ObjectStore]:
    """Each contract test runs once per backend, S3 once per selected server."""
    if request.param == "memory":
        yield MemoryStore(signer=signer)
    elif request.param == "local":
        yield LocalStore(tmp_path / "store", signer=signer)
    else:
        endpoint = str(request.getfixturevalue(f"{request.param}_endpoint"))
        s3 = moto_store(endpoint, make_bucket(endpoint))
        yield s3
        s3.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """Each database test runs on SQLite and, where reachable, on PostgreSQL."""
    if request.param == "sqlite":
        with sqlite_database(tmp_path) as database:
            yield database
    else:
        with postgres_database() as database:
            yield database
