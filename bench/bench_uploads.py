"""Multipart uploads: the signed-URL data path against boto3's own, and the server's memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import urllib3
from boto3.s3.transfer import TransferConfig

from bench.harness import Result, ensure_repo_on_path, tree_rss
from sartiq_storage.core.config import load_settings
from sartiq_storage.core.multipart import MIB
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.services.context import build_context
from sartiq_storage.testing.moto_server import (
    free_port,
    make_bucket,
    moto_client,
    moto_server,
    moto_settings,
)
from sartiq_storage.testing.process_group import process_group

TITLE = "Multipart uploads"
DESCRIPTION = """\
**Through our signed URLs vs boto3** (ratio = baseline time / ours: above 1 ours is faster): a
1 GB file to moto's S3 server (a separate process on loopback) in 16 MiB parts, 4 at once.
**ours**: `MultipartUploadService` (SQLite) creates the upload and signs every part URL
(`presign_upload_part`, boto3's presigner), 4 threads `PUT` the parts as a browser would,
with urllib3 (boto3's HTTP stack; each part read with `pread`), then it completes;
**baseline**: boto3's own `upload_file` (`TransferConfig(multipart_chunksize=16 MiB,
max_concurrency=4)`, default client configuration) on the same server in the same run:
alternately (who goes first swapping), each deleting its object, best of three each.
Bar ≥ 0.9.
**Server memory**: a 2 GB file uploaded to a running `sartiq-storage serve` on the embedded
store through the HTTP protocol (create, batch sign, 16 MiB parts `PUT` 4 at once to
`/_storage/parts/…`, list, complete: the parts are assembled into the object by streaming).
**ours** is the growth of the server's resident memory (its whole process tree, sampled every
20 ms) over its idle size; the **baseline** is the 64 MB bar, so here ratio = ours / bar: at
most 1 is within it.
"""

PART = 16 * MIB
CONCURRENCY = 4
ROUNDS = 3
MB = 1_000_000
SECRET = "bench-uploads-secret-of-a-sensible-length-0123"


def _make_file(path: Path, size: int) -> None:
    block = os.urandom(PART)
    with open(path, "wb") as out:
        left = size
        while left > 0:
            out.write(block[: min(left, PART)])
            left -= PART


def _put_parts(path: Path, urls: dict[int, str], size: int) -> dict[int, str]:
    """Each part PUT to its URL, ``CONCURRENCY`` at once; part number → ETag. With urllib3,
    boto3's own HTTP stack, so the comparison is of the protocols, not of two clients."""
    etags: dict[int, str] = {}
    pool_manager = urllib3.PoolManager(maxsize=CONCURRENCY, timeout=300.0)
    with open(path, "rb") as handle:
        fd = handle.fileno()

        def send(number: int) -> None:
            start = (number - 1) * PART
            data = os.pread(fd, min(PART, size - start), start)
            answer = pool_manager.request("PUT", urls[number], body=data)
            if answer.status != 200:
                raise RuntimeError(f"part {number}: HTTP {answer.status} {answer.data[:200]!r}")
            etags[number] = str(answer.headers["etag"])

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(send, sorted(urls)))
    pool_manager.clear()
    return etags


def _moto_row(folder: Path, size: int) -> Result:
    source = folder / "big.bin"
    _make_file(source, size)
    with moto_server() as endpoint:
        bucket = make_bucket(endpoint)
        settings = load_settings(
            **moto_settings(endpoint, bucket),
            STORAGE_DATA_DIR=folder / "data",
            AUTH_JWT_SECRET=SECRET,
            STORAGE_MULTIPART_PART_BYTES=PART,
            STORAGE_MAX_VIDEO_UPLOAD_BYTES=max(size, 5 * 1024**3),
        )
        context = build_context(settings, migrate=True)
        try:
            client = moto_client(endpoint)

            def ours() -> None:
                service = context.multipart
                upload = service.create("big.mp4", "video/mp4", size, requester="bench")
                numbers = list(range(1, upload.max_parts + 1))
                signed = service.sign_parts(
                    upload.storage_key, upload.upload_id, numbers, requester="bench"
                )
                urls = {n: request.url for n, request in signed.items()}
                etags = _put_parts(source, urls, size)
                parts = [(n, etags[n]) for n in numbers]
                service.complete(upload.storage_key, upload.upload_id, parts, requester="bench")
                client.delete_object(Bucket=bucket, Key=upload.storage_key)

            def baseline() -> None:
                config = TransferConfig(
                    multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=CONCURRENCY
                )
                key = f"baseline/{time.time_ns()}.bin"
                client.upload_file(str(source), bucket, key, Config=config)
                client.delete_object(Bucket=bucket, Key=key)

            # Alternately, three rounds each, who goes first swapping; the best of each counts
            # (the least disturbed by whatever else the machine runs). Each deletes its object
            # (deletion included in its time: moto holds everything in memory).
            times: dict[str, list[float]] = {"ours": [], "baseline": []}
            order = [("baseline", baseline), ("ours", ours), ("ours", ours), ("baseline", baseline)]
            for name, work in (order * ROUNDS)[: 2 * ROUNDS]:
                start = time.perf_counter()
                work()
                times[name].append(time.perf_counter() - start)
        finally:
            context.close()
    ours_s, base_s = min(times["ours"]), min(times["baseline"])
    return Result(
        TITLE,
        f"{size / MB:.0f} MB to moto: our signed part URLs vs boto3 upload_file",
        base_s / ours_s * 100,
        100,
        "% of boto3's speed",
        f"ours {size / MB / ours_s:.0f} MB/s ({ours_s:.1f} s), boto3 {size / MB / base_s:.0f} "
        f"MB/s ({base_s:.1f} s); best of {ROUNDS} each, {PART // MIB} MiB parts, "
        f"{CONCURRENCY} at once",
    )


def _sampler(pid: int) -> tuple[Callable[[], int], Callable[[], None]]:
    peak = [0]
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss(pid))
            time.sleep(0.02)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    def finish() -> None:
        stop.set()
        thread.join()

    return lambda: peak[0], finish


def _embedded_row(folder: Path, size: int) -> Result:
    source = folder / "big.bin"
    _make_file(source, size)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LOG_LEVEL": "WARNING",
        "AUTH_JWT_SECRET": SECRET,
        "STORAGE_SERVICE_URL": base,
        "STORAGE_DATA_DIR": str(folder / "data"),
        "STORAGE_MULTIPART_PART_BYTES": str(PART),
        "STORAGE_MAX_VIDEO_UPLOAD_BYTES": str(max(size, 5 * 1024**3)),
    }
    # Its own process group, stopped whole however the run ends (a granian worker included).
    with process_group(
        [sys.executable, "-m", "sartiq_storage.interfaces.cli", "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as serve:
        for _ in range(300):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        auth = {"Authorization": f"Bearer {issue_token(SECRET, 'bench')}"}
        root = "/api/v1/uploads/s3/multipart"
        with httpx.Client(base_url=base, headers=auth, timeout=600) as api:
            # Warm the routes up with a small upload, so the idle size includes their imports.
            _http_upload(api, root, source, 2 * PART)
            time.sleep(1)
            idle = tree_rss(serve.pid)
            peak, finish = _sampler(serve.pid)
            start = time.perf_counter()
            done = _http_upload(api, root, source, size)
            seconds = time.perf_counter() - start
            finish()
        growth = (peak() - idle) / MB
    return Result(
        TITLE,
        f"{size / MB:.0f} MB multipart upload to the embedded store: server RSS growth",
        growth,
        64,
        "MB peak (baseline: the bar)",
        f"growth {growth:.1f} MB over an idle {idle / MB:.0f} MB (process tree); "
        f"{size / MB / seconds:.0f} MB/s ({seconds:.1f} s, {done['size']} bytes stored)",
    )


def _http_upload(api: httpx.Client, root: str, source: Path, size: int) -> dict[str, Any]:
    created = api.post(root, json={"filename": "big.mp4", "type": "video/mp4", "size": size})
    created.raise_for_status()
    key, upload_id = created.json()["key"], created.json()["uploadId"]
    count = created.json()["maxParts"]
    urls: dict[int, str] = {}
    for first in range(1, count + 1, 500):
        numbers = ",".join(str(n) for n in range(first, min(count, first + 499) + 1))
        batch = api.get(f"{root}/{upload_id}/batch", params={"key": key, "partNumbers": numbers})
        batch.raise_for_status()
        urls.update({int(n): u for n, u in batch.json()["presignedUrls"].items()})
    _put_parts(source, urls, size)
    listed = api.get(f"{root}/{upload_id}", params={"key": key})
    listed.raise_for_status()
    parts = [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in listed.json()]
    done = api.post(f"{root}/{upload_id}/complete", params={"key": key}, json={"parts": parts})
    done.raise_for_status()
    return dict(done.json())


def run(quick: bool) -> list[Result]:
    ensure_repo_on_path()
    moto_size, embedded_size = (64 * MIB, 128 * MIB) if quick else (1_000_000_000, 2_000_000_000)
    with tempfile.TemporaryDirectory(prefix="bench-uploads-") as tmp:
        for name in ("moto", "embedded"):
            (Path(tmp) / name).mkdir()
        return [
            _moto_row(Path(tmp) / "moto", moto_size),
            _embedded_row(Path(tmp) / "embedded", embedded_size),
        ]


if __name__ == "__main__":
    print(json.dumps([row.__dict__ for row in run("--quick" in sys.argv)], default=str))
