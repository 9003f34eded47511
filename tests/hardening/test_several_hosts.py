"""Several hosts at once: three ``serve`` and two ``worker`` processes on one PostgreSQL schema
and one bucket (moto's S3 server), all started together on the empty database.

A real workload over HTTP, spread over the servers: presign → PUT to the bucket → ingest
(the same bytes ingested through different servers: dedup across servers; many ingests into
one single slot at once: slot races), ``/files`` and ``?type=webp`` through every server,
detaches, a compute image deleted. Mid-workload one ``serve`` (with its granian workers) and
one worker are killed with SIGKILL; a request that dies with its server is sent again to
another one, as a load balancer would. Then recovery as production runs it (one orphan scan)
and the invariants:

* every process started (migrations take turns instead of failing each other);
* no row points at a missing object; no object under ``media/`` lacks a row;
* every acknowledged ingest is there: one resource per content whatever the server, and its
  attachment still holds its slot unless detached or replaced in that slot by another
  acknowledged ingest; each single slot holds exactly one attachment;
* the derivative of a deleted source is a 404 from every live server, including those that
  served it before the deletion.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaResourceAttachment
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.testing.media import image_bytes, ingest_body
from sartiq_storage.testing.moto_server import (
    TEST_KEY_ID,
    TEST_SECRET,
    free_port,
    moto_settings,
    moto_store,
)
from tests.hardening.media_invariants import check_media_invariants, media_rows
from tests.support.buckets import public_read
from tests.support.db import postgres_database, url_for_processes
from tests.support.serve_process import ENTRY_POINT, kill_hard, serve_process, stop

SERVES = 3
WORKERS = 2
CONTENTS = 6
"""Distinct images; each is uploaded several times, through different servers."""
INGESTS = 48
RACED_SLOTS = 3
"""Entities whose single ``cover`` slot every third ingest races for."""
SECRET = "several-hosts-secret-0123456789abcdef"


@dataclass
class Cluster:
    bases: list[str]
    serves: list[subprocess.Popen[str]]
    workers: list[subprocess.Popen[bytes]]
    logs: Path
    alive: list[bool] = field(default_factory=list)
    auth: dict[str, str] = field(default_factory=dict)

    def live(self) -> list[str]:
        return [base for base, up in zip(self.bases, self.alive, strict=True) if up]

    def request(self, start: int, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """``method path`` on server ``start``, or on the next one if that one is dead (a
        request that dies with its server may have been applied: sending it again to another
        server is what the service must absorb)."""
        last: Exception | None = None
        for attempt in range(2 * SERVES):
            base = self.bases[(start + attempt) % SERVES]
            try:
                return httpx.request(method, base + path, timeout=60, **kwargs)
            except httpx.TransportError as exc:
                last = exc
        raise AssertionError(f"no server answered {method} {path}: {last}")


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [ENTRY_POINT, "worker"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def _wait_up(base: str, server: subprocess.Popen[str]) -> None:
    """Until ``serve`` answers; its own output if it exits first (a failed migration)."""
    while server.poll() is None:
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    output = server.stdout.read() if server.stdout else ""
    raise AssertionError(f"serve on {base} exited with {server.returncode}:\n{output}")


@contextmanager
def cluster(tmp_path: Path, endpoint: str, bucket: str, db: Database) -> Iterator[Cluster]:
    env = {
        **os.environ,
        **moto_settings(endpoint, bucket),
        "DATABASE_URL": url_for_processes(db),
        "AUTH_JWT_SECRET": SECRET,
        "WORKER_POLL_SECONDS": "0.5",
        "WORKER_SCAN_EVERY_MINUTES": "0.05",
        "WORKER_HEAL_EVERY_MINUTES": "0.05",
    }
    ports = [free_port() for _ in range(SERVES)]
    with ExitStack() as stack:
        serves = []
        workers = []
        # All at once, on the empty schema: every process migrates at start.
        for i, port in enumerate(ports):
            home = tmp_path / f"serve{i}"
            home.mkdir()
            serve_env = {**env, "STORAGE_DATA_DIR": str(home / "data")}
            serves.append(stack.enter_context(serve_process(home, port, env=serve_env)))
        for i in range(WORKERS):
            env_i = {**env, "STORAGE_DATA_DIR": str(tmp_path / f"worker{i}")}
            proc = _worker(env_i, tmp_path / f"worker{i}.log")
            stack.callback(stop, proc)
            workers.append(proc)
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base, server in zip(bases, serves, strict=True):
            _wait_up(base, server)
        for i, proc in enumerate(workers):
            log = tmp_path / f"worker{i}.log"
            while "worker running" not in log.read_text() and proc.poll() is None:
                time.sleep(0.1)  # it says so once migrated
            assert proc.poll() is None, log.read_text()
        yield Cluster(
            bases,
            serves,
            workers,
            tmp_path,
            alive=[True] * SERVES,
            auth={"Authorization": f"Bearer {issue_token(SECRET, 'several-hosts')}"},
        )
        for i, proc in enumerate(workers):
            if i != 1:
                assert proc.poll() is None, (tmp_path / f"worker{i}.log").read_text()


@dataclass(frozen=True)
class Acked:
    content: int
    resource: uuid.UUID
    attachment: uuid.UUID
    slot: tuple[uuid.UUID, str, int | None]
    key: str


def _upload(c: Cluster, server: int, data: bytes) -> str:
    """Presign through one server, PUT to the bucket; the upload's file URL."""
    presigned = c.request(
        server,
        "POST",
        "/api/v1/uploads/presigned-url",
        headers=c.auth,
        json={"filename": "look.png", "content_type": "image/png", "size": len(data)},
    )
    assert presigned.status_code == 200, presigned.text
    body = presigned.json()
    put = httpx.put(body["upload_url"], content=data, headers=body["upload_headers"], timeout=60)
    assert put.status_code == 200, put.text
    return str(body["file_url"])


def _ingest(
    c: Cluster, server: int, content: int, data: bytes, slot: tuple[uuid.UUID, str, int | None]
) -> Acked:
    file_url = _upload(c, server, data)
    body = ingest_body(file_url, *slot)
    # Ingested through the next server: never the one that presigned.
    answer = c.request(
        server + 1, "POST", "/api/v1/media-resources/ingest", headers=c.auth, json=body
    )
    assert answer.status_code == 201, answer.text
    made = answer.json()
    key = made["media_resource"]["url"].split("/", 4)[4]  # {endpoint}/{bucket}/{key}
    return Acked(
        content,
        uuid.UUID(made["media_resource"]["id"]),
        uuid.UUID(made["attachment"]["id"]),
        slot,
        key,
    )


def _read_back(c: Cluster, server: int, acked: Acked, data: bytes) -> None:
    """``/files`` and ``?type=webp`` through a server other than the ingesting one."""
    files = c.request(server + 2, "GET", f"/files/{acked.key}", follow_redirects=True)
    assert files.status_code == 200, files.text
    assert files.content == data
    webp = c.request(server + 2, "GET", f"/files/{acked.key}?type=webp", follow_redirects=True)
    assert webp.status_code == 200, webp.text
    assert webp.content[8:12] == b"WEBP"


def _every_server_converts(c: Cluster, path: str) -> None:
    for base in c.live():
        got = httpx.get(f"{base}/files/{path}?type=webp", follow_redirects=True, timeout=60)
        assert got.status_code == 200, (base, got.text)


def _every_server_refuses(c: Cluster, path: str) -> None:
    for base in c.live():
        got = httpx.get(f"{base}/files/{path}?type=webp", follow_redirects=True, timeout=60)
        assert got.status_code == 404, (base, path, got.status_code)


def test_three_servers_and_two_workers_on_one_database_and_bucket(
    tmp_path: Path, s3_endpoint: str, s3_bucket: str
) -> None:
    public_read(s3_endpoint, s3_bucket, TEST_KEY_ID, TEST_SECRET)  # /files is followed
    contents = [image_bytes("png", 40 + i, 30, (30 * i, 90, 200 - 20 * i)) for i in range(CONTENTS)]
    doomed_bytes = image_bytes("png", 33, 33, (1, 2, 3))
    entities = [uuid.uuid4() for _ in range(RACED_SLOTS)]
    with (
        postgres_database(create_tables=False) as db,
        cluster(tmp_path, s3_endpoint, s3_bucket, db) as c,
    ):
        # Before the workload: a media source and a compute image that every server converts
        # (and so knows about) and that will be deleted.
        doomed = _ingest(c, 0, -1, doomed_bytes, (uuid.uuid4(), "cover", None))
        made = c.request(
            1,
            "POST",
            "/api/v1/storage/images/looks/doomed.png",
            headers=c.auth,
            files={"file": ("doomed.png", doomed_bytes, "image/png")},
        )
        assert made.status_code == 201, made.text
        compute_path = "compute/looks/doomed.png"
        _every_server_converts(c, doomed.key)
        _every_server_converts(c, compute_path)

        acked: list[Acked] = []
        lock = threading.Lock()
        serial = itertools.count()

        def one(i: int) -> None:
            content = i % CONTENTS
            entity = entities[(i // 3) % RACED_SLOTS]
            if i % 3 == 0:  # the raced single slots
                slot: tuple[uuid.UUID, str, int | None] = (entity, "cover", None)
            else:
                slot = (entity, "gallery", next(serial))
            result = _ingest(c, i, content, contents[content], slot)
            _read_back(c, i, result, contents[content])
            with lock:
                acked.append(result)

        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(one, i) for i in range(INGESTS)]
            for finished, future in enumerate(as_completed(futures), start=1):
                future.result()
                if finished == INGESTS // 3:
                    # A host dies mid-workload: a server with its granian workers, a worker.
                    kill_hard(c.serves[2])
                    c.alive[2] = False
                    c.workers[1].kill()
                    c.workers[1].wait()

        # Detach everything of the doomed resource and of one gallery position; delete the
        # compute image (through another server than the one that wrote it).
        detached = {doomed.attachment}
        gallery = next(a for a in acked if a.slot[1] == "gallery")
        detached.add(gallery.attachment)
        for n, attachment in enumerate(sorted(detached)):
            gone = c.request(
                n, "DELETE", f"/api/v1/media-resources/attachments/{attachment}", headers=c.auth
            )
            assert gone.status_code == 204, gone.text
        deleted = c.request(0, "DELETE", "/api/v1/storage/images/looks/doomed.png", headers=c.auth)
        assert deleted.status_code == 204, deleted.text

        # Before recovery: no row points at a missing object, every acknowledged ingest is there.
        store = moto_store(s3_endpoint, s3_bucket)
        rows = media_rows(db)
        for key in rows.values():
            assert store.exists(key), f"a row points at the missing object {key}"
        assert {a.resource for a in acked} <= set(rows)

        # Dedup across servers: one resource per content, whichever servers took the uploads.
        by_content: dict[int, set[uuid.UUID]] = defaultdict(set)
        for a in acked:
            by_content[a.content].add(a.resource)
        assert all(len(ids) == 1 for ids in by_content.values()), dict(by_content)
        assert len(by_content) == CONTENTS

        # Recovery as production runs it: one orphan scan (all is quiet now: no grace needed).
        scan = subprocess.run(
            [ENTRY_POINT, "orphans", "scan", "--apply", "--grace-hours", "0", "--json"],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                **moto_settings(s3_endpoint, s3_bucket),
                "DATABASE_URL": url_for_processes(db),
                "AUTH_JWT_SECRET": SECRET,
            },
            timeout=120,
            check=False,
        )
        assert scan.returncode == 0, scan.stderr
        rows = check_media_invariants(db, store)
        assert doomed.resource not in rows
        assert not store.exists(doomed.key)

        # Every acknowledged attachment holds its slot unless detached or replaced there by
        # another acknowledged ingest; each raced single slot holds exactly one of them.
        with db.session() as session:
            attachments = session.execute(
                select(
                    MediaResourceAttachment.id,
                    MediaResourceAttachment.media_resource_id,
                    MediaResourceAttachment.entity_id,
                    MediaResourceAttachment.slot,
                    MediaResourceAttachment.position,
                )
            ).all()
        holder = {(e, s, p): (aid, rid) for aid, rid, e, s, p in attachments}
        assert len(holder) == len(attachments)
        for a in acked:
            if a.attachment in detached:
                assert a.slot not in holder or holder[a.slot][0] != a.attachment
                continue
            assert a.slot in holder, f"acknowledged ingest lost its slot: {a}"
            attachment, resource = holder[a.slot]
            assert resource in rows
            if attachment == a.attachment:
                assert resource == a.resource
            else:  # replaced in a single slot by another acknowledged ingest
                assert a.slot[2] is None
                assert attachment in {b.attachment for b in acked if b.slot == a.slot}
        for entity in entities:
            assert (entity, "cover", None) in holder

        # The sources are gone: no server answers with the derivative it made before.
        _every_server_refuses(c, doomed.key)
        _every_server_refuses(c, compute_path)
