"""``POST /api/v1/media-resources/ingest`` as the platform calls it, over real HTTP.

One call per upload, inline enrichment on (the API's default), 16 callers at once, against
``sartiq-storage serve`` (granian, one worker) in its own process group, stopped on the way
out also when the run is interrupted (``sartiq_storage.testing.process_group``).
"""

from __future__ import annotations

import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.bench_load import _process
from bench.bench_media import _corpus
from bench.harness import MB, Result, ensure_repo_on_path, tree_cpu

TITLE = "Media ingestion over HTTP"
DESCRIPTION = """\
**`POST /api/v1/media-resources/ingest` as the platform calls it**: one call per upload,
inline enrichment on (the API's default: SHA-256 of the bytes, MD5 from the store's
plain-MD5 ETag, the dominant colour from a reduced decode), a bearer token, each upload
attached to its own product's `cover_image`, 16 callers at once (threads sharing one
`httpx.Client`, keep-alive) against `sartiq-storage serve` (granian, one worker, embedded
defaults: local disk and SQLite, in a temporary folder) in its own process group on
loopback; calls that arrive while another ingest is being recorded share its next
transaction (`services/media/grouping.py`). The uploads are the media benchmark's (noise
JPEGs of 50 KB to 5 MB, 10 % of them byte-identical to an earlier one), put in the
service's store beforehand: the browser's PUT is outside every timing. Baseline: the raw
copy loop over the same bytes (a replica of each upload) on the same store in the same run
(`shutil.copyfile` + fsync + rename, one after another, in the benchmark's process), as in
the media benchmark. Floor: each upload read, its dominant colour decoded as the service
decodes it and copied raw, on 16 threads in the benchmark's process (no HTTP, hashing,
metadata walk or database): what no ingest with inline enrichment can undercut. The three
alternate (each going first in turn) in rounds of 64 uploads after an untimed warm-up
round; each figure is its median round. Target: ratio ≥ 0.6.

The notes give CPU per object (user + system, all threads, median round): the server's
process tree and the callers for ours, the benchmark's threads for the floor. On this
shared two-core machine the neighbours keep it CPU-bound, so ours/floor follows the ratio
of CPU per object (`docs/decisions.md` "Ingest over HTTP: CPU per object decides the
ratio"). Where the server's CPU goes (2026-12-05, after the decode slot is held only while
pixels decode; per upload, thread CPU per thread under this load): libvips' worker threads
5.0 ms, the request threads 3.7–4.2, the colour thread 1.4–1.5, the event loop 0.5–0.7,
and 0.65–0.75 ms in the callers. Measured lower bound: the same ingest in process, one
thread, no HTTP, costs 9.0–9.5 ms; with the event loop and the callers at least
10.2–11.0 ms against the floor's 7.1–7.8: at most 0.66–0.72 of the floor on a CPU-bound
machine. Ours costs 11.7–12.5 ms: the 1–1.5 ms above the bound is 16 threads contending
for the GIL (each step costs more under load than alone: the header read 0.45–0.57 ms
against 0.16), and ours keeps 1.5–1.6 of the two cores busy where the floor keeps 1.8–1.9,
which is why ours/floor sits below the CPU ratio (`docs/decisions.md` "Ingest over HTTP:
where the server's CPU goes now"). What the floor skips and an ingest must do (SHA-256, the privacy
walk, the header check, the lookup and transaction, the durable copy, HTTP) is the gap,
and the decode itself keeps both far below the copy loop (a noise JPEG's Huffman data is
decoded whole even at 1/8 scale): the target of 0.6 is missed by the decode.
"""

SECRET = "bench-ingest-secret-0123456789abcdef0123456789"
CALLERS = 16
ROUND = 64


def _copy_loop(store_root: Path):  # type: ignore[no-untyped-def]
    """The baseline: each upload copied raw (copy, fsync, rename), one after another."""
    objects = store_root / "objects"
    scratch = store_root / "tmp"

    def copy(key: str) -> None:
        target = objects / f"media/{uuid.uuid4()}/file.jpg."
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = scratch / uuid.uuid4().hex
        shutil.copyfile(objects / f"{key}.", tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)

    return copy


def _copy_and_decode(store_root: Path, copy):  # type: ignore[no-untyped-def]
    """The floor: what no ingest with inline enrichment can skip, each upload read, its
    dominant colour decoded as the service does it, and copied raw (no HTTP, no hashing, no
    metadata walk, no database)."""
    from sartiq_storage.adapters.media_probe import _dominant_color
    from sartiq_storage.adapters.vips import pyvips

    objects = store_root / "objects"

    def work(replica: str) -> None:
        data = (objects / f"{replica}.").read_bytes()
        source = pyvips.Source.new_from_memory(data)
        _dominant_color(data, pyvips.Image.new_from_source(source, "", access="sequential"))
        copy(replica)

    return work


def _ingest_run(
    count: int, corpus: list[bytes]
) -> tuple[list[float], list[float], list[float], int, dict[str, list[float]]]:
    """One server, rounds alternating with the copy loop and the floor: (ours, baseline,
    floor) objects/s per timed round, the number of answers that were not 201, and CPU
    milliseconds per object of each timed round (``server`` and ``client`` of ours, the
    ``floor``'s threads)."""
    from sartiq_storage.adapters.stores import LocalStore
    from sartiq_storage.core.tokens import issue_token

    token = issue_token(SECRET, "bench")
    with tempfile.TemporaryDirectory(prefix="bench-ingest-http-") as tmp:
        folder = Path(tmp)
        data_dir = folder / "data"
        store = LocalStore(data_dir / "store")
        keys = [f"temp/{uuid.uuid4().hex}_1706000000_p{i}.jpg" for i in range(len(corpus))]
        # The baseline copies its own replica of each upload: an ingest deletes its source,
        # and the sides take turns at going first.
        replicas = [f"bench/replica-{i}.jpg" for i in range(len(corpus))]
        for key, replica, data in zip(keys, replicas, corpus, strict=True):
            store.put(key, data, content_type="image/jpeg")
            store.put(replica, data, content_type="image/jpeg")
        copy = _copy_loop(data_dir / "store")
        floor_work = _copy_and_decode(data_dir / "store", copy)
        from sartiq_storage.testing.moto_server import free_port

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            "STORAGE_DATA_DIR": str(data_dir),
            "AUTH_JWT_SECRET": SECRET,
            "STORAGE_SERVICE_URL": base,
            "LOG_LEVEL": "WARNING",
        }
        serve = [sys.executable, "-m", "sartiq_storage.interfaces.cli", "serve"]
        serve += ["--port", str(port), "--workers", "1"]
        headers = {"Authorization": f"Bearer {token}"}
        limits = httpx.Limits(max_connections=CALLERS, max_keepalive_connections=CALLERS)
        ours: list[float] = []
        baseline: list[float] = []
        floor: list[float] = []
        cpu: dict[str, list[float]] = {"server": [], "client": [], "floor": []}
        failures = 0
        with (
            _process(serve, env, folder, f"{base}/healthz") as server_pid,
            httpx.Client(base_url=base, headers=headers, limits=limits, timeout=120) as client,
            ThreadPoolExecutor(CALLERS) as pool,
        ):
            presign = client.post(
                "/api/v1/uploads/presigned-url",
                json={"filename": "p.jpg", "content_type": "image/jpeg", "size": 1000},
            )
            presign.raise_for_status()
            file_url = presign.json()["file_url"]
            public = file_url[: file_url.index("/temp/")]

            def call(key: str) -> int:
                body = {
                    "media": {"url": f"{public}/{key}"},
                    "entity_type": "PRODUCT",
                    "entity_id": str(uuid.uuid4()),
                    "slot": "cover_image",
                }
                return client.post("/api/v1/media-resources/ingest", json=body).status_code

            for number, offset in enumerate(range(0, count + ROUND, ROUND)):
                chunk = keys[offset : offset + ROUND]
                copies = replicas[offset : offset + ROUND]
                sides = ["base", "ours", "floor"]
                for side in sides[number % 3 :] + sides[: number % 3]:
                    gc.collect()
                    start = time.perf_counter()
                    here, there = time.process_time(), tree_cpu(server_pid)
                    if side == "base":
                        for replica in copies:
                            copy(replica)
                    elif side == "floor":
                        list(pool.map(floor_work, copies))
                    else:
                        statuses = list(pool.map(call, chunk))
                        failures += sum(status != 201 for status in statuses)
                    rate = len(chunk) / (time.perf_counter() - start)
                    here = (time.process_time() - here) * 1000 / len(chunk)
                    there = (tree_cpu(server_pid) - there) * 1000 / len(chunk)
                    if number:  # round 0: the warm-up
                        {"base": baseline, "ours": ours, "floor": floor}[side].append(rate)
                        if side == "ours":
                            cpu["server"].append(there)
                            cpu["client"].append(here)
                        elif side == "floor":
                            cpu["floor"].append(here)
    return ours, baseline, floor, failures, cpu


def run(quick: bool) -> list[Result]:
    ensure_repo_on_path()
    count = 2 * ROUND if quick else 16 * ROUND
    corpus = _corpus(count + ROUND)
    total_mb = sum(len(b) for b in corpus[ROUND:]) / MB
    ours, base, floor, failures, cpu = _ingest_run(count, corpus)
    per_object = {side: statistics.median(values) for side, values in cpu.items()}
    if failures:
        print(f"ingest_http: {failures} answers were not 201")
    ours_rate, base_rate = statistics.median(ours), statistics.median(base)
    spread = sorted(o / b for o, b in zip(ours, base, strict=True))
    return [
        Result(
            "ingest_http",
            f"POST /ingest, {count} uploads of 50 KB–5 MB, inline enrichment, "
            f"{CALLERS} concurrent callers vs the copy loop",
            ours_rate,
            base_rate,
            "objects/s",
            f"{total_mb:.0f} MB in all; medians of {len(ours)} rounds of {ROUND} (ours, the "
            f"baseline and the floor alternating, after a warm-up round): ours "
            f"{total_mb / count * ours_rate:.1f} MB/s, baseline copy "
            f"{total_mb / count * base_rate:.1f} MB/s; round by round the ratio ran from "
            f"{spread[0]:.2f} to {spread[-1]:.2f}; answers other than 201: {failures}; floor "
            f"(each upload read, its colour decoded as the service does and copied raw, on "
            f"{CALLERS} threads, no HTTP): {statistics.median(floor) / base_rate:.2f} of the "
            f"copy loop, ours {ours_rate / statistics.median(floor):.2f} of the floor; CPU "
            f"per object (all threads, median round): ours {per_object['server']:.1f} ms in "
            f"the server + {per_object['client']:.1f} ms in the callers, the floor "
            f"{per_object['floor']:.1f} ms",
        )
    ]
