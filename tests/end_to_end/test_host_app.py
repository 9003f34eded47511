"""The platform's Backend can run this package in-process: a separate host FastAPI app with
its own model, its own Alembic history and its own auth, on the same PostgreSQL database,
mounts the storage service under ``/storage`` and drives an upload end to end over HTTP
against a real server process (``tests/support/host_app.py``, ``docs/embedding.md``)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from sartiq_storage.api import issue_token
from sartiq_storage.config import Database, head_revision
from sartiq_storage.testing.media import image_bytes, ingest_body
from sartiq_storage.testing.moto_server import free_port
from tests.support.db import PG_ENV, postgres_url
from tests.support.host_app import HOST_REVISION, migrate_host
from tests.support.serve_process import Output, get_once_up, stop

pytestmark = pytest.mark.postgres
REPOSITORY = Path(__file__).resolve().parents[2]
SCHEMA = "storage"
EDITOR = {"X-Host-User": "alice", "X-Host-Role": "editor"}
VIEWER = {"X-Host-User": "bob", "X-Host-Role": "viewer"}


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A database of its own on the test server (``CREATE DATABASE``), dropped afterwards:
    the host's ``public`` schema is really the host's."""
    url = postgres_url()
    if url is None:
        pytest.skip(f"the embedding test needs PostgreSQL: set {PG_ENV} (CI sets it)")
    name = f"sartiq_embed_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _host_process(url: str, port: int, data: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "HOST_DATABASE_URL": url,
        "STORAGE_DB_SCHEMA": SCHEMA,
        "STORAGE_DATA_DIR": str(data),
        "STORAGE_SERVICE_URL": f"http://127.0.0.1:{port}/storage",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.support.host_app:create_host_app"]
        + ["--factory", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=REPOSITORY,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_a_host_app_mounts_storage_on_its_own_database_and_auth(
    fresh_database: str, tmp_path: Path
) -> None:
    migrate_host(fresh_database, tmp_path / "host_migrations")  # the host's deploy step
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _host_process(fresh_database, port, tmp_path / "data")
    output = Output(proc)
    try:
        up = get_once_up(f"{base}/storage/healthz", attempts=300)
        assert up.status_code == 200, "\n".join(output.lines)
        _upload_flow(base)
        _auth_is_the_hosts(base, tmp_path / "data")
    finally:
        stop(proc)
    # uvicorn re-raises the SIGTERM it handled once shut down: -15 is its clean stop.
    assert proc.returncode in (0, -15), "\n".join(output.lines)
    assert not any("Traceback" in line for line in output.lines), "\n".join(output.lines)
    _histories_coexist(fresh_database)


def _upload_flow(base: str) -> None:
    """Host row → presign → PUT the bytes → ingest onto the host's row → ``/files`` 302 →
    the bytes; then the host reads its row's images in-process."""
    with httpx.Client(base_url=base, timeout=30) as client:
        product = client.post("/products", json={"name": "linen shirt"}, headers=EDITOR)
        assert product.status_code == 201, product.text
        product_id = uuid.UUID(product.json()["id"])

        data = image_bytes("png", seed=7)
        presign = client.post(
            "/storage/api/v1/uploads/presigned-url",
            json={"filename": "shirt.png", "content_type": "image/png", "size": len(data)},
            headers=EDITOR,
        )
        assert presign.status_code == 200, presign.text
        upload = presign.json()
        assert upload["upload_url"].startswith(f"{base}/storage/")
        put = httpx.request(
            upload["upload_method"],
            upload["upload_url"],
            content=data,
            headers=upload["upload_headers"],
            timeout=30,
        )
        assert put.status_code == 200, put.text

        ingest = client.post(
            "/storage/api/v1/media-resources/ingest",
            json=ingest_body(upload["file_url"], product_id),
            headers=EDITOR,
        )
        assert ingest.status_code == 201, ingest.text
        resource = ingest.json()["media_resource"]
        assert ingest.json()["attachment"]["entity_id"] == str(product_id)

        shown = client.get(f"/products/{product_id}", headers=VIEWER)
        assert shown.status_code == 200, shown.text
        [image] = shown.json()["images"]
        assert image["url"] == resource["url"]

        redirect = client.get(f"/storage/files/{image['storage_key']}", follow_redirects=False)
        assert redirect.status_code == 302, redirect.text
        assert redirect.headers["location"] == resource["url"]
        served = client.get(redirect.headers["location"])
        assert served.status_code == 200
        assert served.content == data


def _auth_is_the_hosts(base: str, data: Path) -> None:
    """The host's dependency decides: no host login is 401 (before a body is used), a role
    without the scope is 403, and our own bearer tokens no longer open anything."""
    body = {"filename": "a.png", "content_type": "image/png", "size": 10}
    presign = "/storage/api/v1/uploads/presigned-url"
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.post(presign, json=body).status_code == 401
        assert client.get("/storage/api/v1/media-resources").status_code == 401
        assert client.post(presign, json=body, headers=VIEWER).status_code == 403
        assert client.get("/storage/api/v1/media-resources", headers=VIEWER).status_code == 200
        token = issue_token(_our_jwt_secret(data), "mallory")
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.post(presign, json=body, headers=bearer).status_code == 401
        who = client.get("/storage/api/v1/token", headers=VIEWER)
        assert who.json() == {"subject": "bob", "scopes": ["media:read"]}


def _our_jwt_secret(data: Path) -> str:
    """The secret the embedded default generated (a token ``serve`` would accept)."""
    import json

    stored = json.loads((data / "secrets.json").read_text("utf-8"))
    return str(stored["AUTH_JWT_SECRET"])


def _histories_coexist(url: str) -> None:
    """Each application's tables and Alembic history where it put them, neither touching
    the other's."""
    engine = create_engine(url)
    try:
        found = inspect(engine)
        host_tables = set(found.get_table_names(schema="public"))
        our_tables = set(found.get_table_names(schema=SCHEMA))
        assert host_tables == {"products", "alembic_version"}
        assert {"media_resources", "upload_intents", "alembic_version"} <= our_tables
        with engine.connect() as conn:
            host = conn.execute(text("SELECT version_num FROM public.alembic_version")).all()
            ours = conn.execute(text(f"SELECT version_num FROM {SCHEMA}.alembic_version")).all()
            products = conn.execute(text("SELECT count(*) FROM public.products")).scalar()
        assert [r[0] for r in host] == [HOST_REVISION]
        assert [r[0] for r in ours] == [head_revision()]
        assert products == 1
        # Our reading of our history, through the host's engine, agrees.
        from sartiq_storage.config import current_revision

        assert current_revision(Database(engine, schema=SCHEMA, owns_engine=False)) == (
            head_revision()
        )
    finally:
        engine.dispose()
