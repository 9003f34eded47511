"""Delivery under load: ``/files`` 302s and cached conversions, served by real ASGI servers.

Load comes from ``wrk`` (Debian's package) on loopback, in a separate process.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.harness import REPO_ROOT, Result, cpu_seconds, ensure_repo_on_path

TITLE = "Delivery"
DESCRIPTION = """\
`GET /files/{path}` answering its 302, against a bare Starlette app answering the same 302
(`bench/bare_redirect.py`), both under the same ASGI server, one worker, in the same run, with
`wrk -t1 -c32` on loopback (one core for the server, one for the load). Each figure is the
median of three 4-second runs, ours and the baseline up at once and alternating run by run.
Then the servers themselves compared on the bare app, and a cached `?type=webp` conversion
(`/_storage/derived/…` once made: `stat` the source and the derivative, answer with the
kept ETag and immutable caching, the file sent by the server itself where it offers ASGI
`pathsend` (granian) or read at once; `fast_derived.py`) against Starlette's `StaticFiles`
serving a file of the same size. Skipped,
with a note, when `wrk` is not installed (`apt-get install wrk`).
First, without a server: the `/files` 302 called in-process as the app answers it (the fast
path skips the ASGI layers and adds `X-Request-ID` and the access line itself, the line written
to `/dev/null`; computed redirects are kept) against the same fast path without that work (what
the work costs per request), and against the answer as it was before the layers (no id, no
line, the redirect computed on every request), interleaved, median of the rounds.
"""

DURATION = "4s"
SECRET = "bench-secret-0123456789abcdef0123456789"


def _wrk(url: str, duration: str = DURATION, connections: int = 32) -> float:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if match is None:
        raise RuntimeError(f"wrk printed no rate: {out}")
    if errors and "timeout" in errors.group(1) and not errors.group(1).endswith("timeout 0"):
        raise RuntimeError(f"wrk reported errors: {errors.group(1)}")
    return float(match.group(1))


def _median_rates(ours: str, baseline: str, runs: int = 3) -> tuple[float, float]:
    """Both servers up at once, their runs alternating, so drift on a shared machine hits
    both alike; the median of each side."""
    ours_rates, baseline_rates = [], []
    for _ in range(runs):
        ours_rates.append(_wrk(ours))
        baseline_rates.append(_wrk(baseline))
    return sorted(ours_rates)[runs // 2], sorted(baseline_rates)[runs // 2]


def _command(server: str, target: str, port: int, factory: bool) -> list[str]:
    if server == "granian":
        cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--workers", "1"]
        cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        return [*cmd, *(["--factory"] if factory else []), target]
    cmd = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--log-level", "warning", "--no-access-log", "--loop", "uvloop", "--http", "httptools"]
    return [*cmd, *(["--factory"] if factory else []), target]


@contextmanager
def _serve(
    server: str,
    target: str,
    env: dict[str, str],
    *,
    factory: bool,
    group: list[int] | None = None,
) -> Iterator[str]:
    """The server up on a free port (its base URL); ``group`` gets its process group id."""
    ensure_repo_on_path()
    from sartiq_storage.testing.moto_server import free_port
    from sartiq_storage.testing.process_group import process_group

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with process_group(
        _command(server, target, port, factory),
        env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=env.get("STORAGE_DATA_DIR", "."),
    ) as proc:
        if group is not None:
            group.append(proc.pid)
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/files/x", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{server} did not start {target}") from None
                time.sleep(0.1)
        yield base


def _layers(quick: bool) -> list[Result]:
    """The ``/files`` 302 in-process: the app as served (request id, access line to a
    discarded stream, redirects kept) against the same fast path without the layers' work,
    and against the answer as it was before the layers (redirect computed on every request,
    no id, no line), interleaved, with no server or load generator in the way."""
    import asyncio
    import statistics

    from sartiq_storage.core.config import load_settings
    from sartiq_storage.interfaces.http.app import create_app
    from sartiq_storage.interfaces.http.fast_files import FastFiles
    from sartiq_storage.interfaces.http.middleware.logs import configure_logging, reset_logging
    from sartiq_storage.services.context import build_context
    from sartiq_storage.testing.media import image_bytes

    key = "media/0b6f4a52-5a8e-4d0e-9f3c-6a1d2c3e4f50/file.png"
    with tempfile.TemporaryDirectory(prefix="bench-layers-") as tmp, open(os.devnull, "w") as sink:
        settings = load_settings(STORAGE_DATA_DIR=Path(tmp), AUTH_JWT_SECRET=SECRET)
        configure_logging(settings, sink)
        context = build_context(settings, migrate=True)
        context.store.put(key, image_bytes("png", 80, 60), content_type="image/png")
        app = create_app(context=context)
        before = create_app(context=context)
        before.fast = FastFiles(context, kept=0)  # type: ignore[attr-defined]
        scope = {
            "type": "http",
            "method": "GET",
            "path": f"/files/{key}",
            "raw_path": f"/files/{key}".encode(),
            "query_string": b"",
            "headers": [(b"host", b"bench"), (b"accept", b"*/*")],
        }

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: object) -> None:
            return None

        async def rate(entry: object, n: int) -> float:
            started = time.perf_counter()
            for _ in range(n):
                await entry(dict(scope), receive, send)  # type: ignore[operator]
            return n / (time.perf_counter() - started)

        async def measure() -> tuple[float, float, float]:
            n = 2_000 if quick else 20_000
            served, without, old = [], [], []
            for _ in range(5 if quick else 9):  # interleaved, so drift hits all alike
                served.append(await rate(app, n))
                without.append(await rate(app._dispatch, n))  # type: ignore[attr-defined]
                old.append(await rate(before._dispatch, n))  # type: ignore[attr-defined]
            return statistics.median(served), statistics.median(without), statistics.median(old)

        ours, bare, old = asyncio.run(measure())
        context.close()
        reset_logging()
    cost = (1 / ours - 1 / bare) * 1e6
    return [
        Result(
            "delivery",
            "in-process /files 302: with the layers' work vs without",
            ours,
            bare,
            "req/s",
            "request id, access line (formatted, written to /dev/null), done by the fast path "
            f"itself: {cost:.1f} µs a request; both sides answer from the kept redirects",
        ),
        Result(
            "delivery",
            "in-process /files 302: as served vs the answer before the layers",
            ours,
            old,
            "req/s",
            "baseline: the fast path without the layers' work, computing its redirect on every "
            "request (the code the layers were measured against on 2026-12-05)",
        ),
    ]


def _photo(width: int, height: int, seed: int) -> bytes:
    """A photo-like JPEG (Q=90): smooth colour fields, a mid-frequency texture and sensor
    grain, about 0.3 bytes a pixel as a phone photo is (noise would be several times that and
    encode like nothing the platform stores)."""
    import pyvips

    def field(w: int, h: int, offset: int) -> pyvips.Image:
        return pyvips.Image.gaussnoise(w, h, mean=128, sigma=50, seed=seed + offset)

    cells = (width // 64 + 2, height // 64 + 2)
    colour = field(*cells, 0).bandjoin([field(*cells, 1), field(*cells, 2)])
    smooth = colour.resize(64, kernel="cubic").crop(0, 0, width, height)
    texture = pyvips.Image.gaussnoise(
        width // 4 + 1, height // 4 + 1, mean=0, sigma=12, seed=seed + 3
    )
    texture = texture.resize(4, kernel="linear").crop(0, 0, width, height)
    grain = pyvips.Image.gaussnoise(width, height, mean=0, sigma=3, seed=seed + 4)
    return bytes((smooth + texture + grain).cast("uchar").write_to_buffer(".jpg[Q=90]"))


PHOTO_SIZES = ((2000, 1500), (2448, 1632), (2048, 1536), (2304, 1728))
"""3 to 4 megapixels: what the platform's product photos are."""


def _group_cpu(pgid: int) -> float | None:
    """CPU seconds (user + system) the live processes of group ``pgid`` have used, from
    ``/proc`` (None without it): what a busy neighbour does not inflate."""
    from sartiq_storage.testing.process_group import group_members

    if not Path("/proc").is_dir():
        return None
    return cpu_seconds(group_members(pgid))


def _fresh_webp(quick: bool) -> Result:
    """A fresh ``?type=webp`` conversion as a user gets it, against the same conversion in
    pyvips in-process: each request names another source object, so each converts."""
    import http.client
    import statistics
    import struct

    import pyvips

    from sartiq_storage.adapters.image_convert import FORMATS
    from sartiq_storage.adapters.stores import LocalStore

    count = 4 if quick else 12
    bases = [_photo(*size, seed=10 * i) for i, size in enumerate(PHOTO_SIZES)]

    def distinct(i: int) -> bytes:  # the same pixels, other bytes: a JFIF density of its own
        base = bases[i % len(bases)]
        jfif = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x01" + struct.pack(">HH", i + 1, 1) + b"\x00\x00"
        return base[:2] + jfif + base[2:]

    sources = [distinct(i) for i in range(count + 1)]  # the first one warms both sides up
    options = {"Q": 82, "effort": 3, "keep": "none"}
    assert FORMATS["webp"][0] == ".webp[Q=82,effort=3]", "baseline options out of step"
    ours: list[float] = []
    baseline: list[float] = []
    made: list[int] = []
    writes: list[float] = []
    cpu = {"ours": 0.0, "baseline": 0.0}
    group: list[int] = []
    with tempfile.TemporaryDirectory(prefix="bench-webp-") as tmp:
        data_dir = Path(tmp) / "data"
        store = LocalStore(data_dir / "store")
        keys = []
        for i, data in enumerate(sources):
            key = f"media/00000000-0000-4000-8000-{i:012d}/file.jpg"
            store.put(key, data, content_type="image/jpeg")
            keys.append(key)
        env = {"STORAGE_DATA_DIR": str(data_dir), "AUTH_JWT_SECRET": SECRET}
        target = "sartiq_storage.interfaces.http.app:app_from_environment"
        with _serve("granian", target, env, factory=True, group=group) as base:
            # http.client, one kept connection: a client as light as a browser's (httpx
            # spent 4 ms of CPU a request here, in the bench's own process).
            client = http.client.HTTPConnection(base.removeprefix("http://"))

            def get(path: str) -> tuple[int, dict[str, str], bytes]:
                client.request("GET", path)
                answer = client.getresponse()
                return answer.status, dict(answer.getheaders()), answer.read()

            def fetch(key: str) -> tuple[float, float]:
                server_before = _group_cpu(group[0]) or 0.0
                started = time.perf_counter()
                _, headers, _ = get(f"/files/{key}?type=webp")
                status, _, body = get(headers["location"].removeprefix("http://127.0.0.1:8000"))
                elapsed = time.perf_counter() - started
                server_cpu = (_group_cpu(group[0]) or 0.0) - server_before
                if status != 200 or body[8:12] != b"WEBP":
                    raise RuntimeError(f"no WebP for {key}: {status}")
                made.append(len(body))
                started = time.perf_counter()  # what storing it cost, timed alone
                store.put(f"bench/derivative-{len(made)}.webp", body)
                writes.append(time.perf_counter() - started)
                return elapsed, server_cpu

            def plain(data: bytes) -> tuple[float, float]:
                started, ticks = time.perf_counter(), time.process_time()
                pyvips.Image.new_from_buffer(data, "", access="sequential").webpsave_buffer(
                    **options
                )
                return time.perf_counter() - started, time.process_time() - ticks

            for i, (key, data) in enumerate(zip(keys, sources, strict=True)):
                if i % 2:  # each side first in turn
                    mine, theirs = fetch(key), plain(data)
                else:
                    theirs, mine = plain(data), fetch(key)
                if i:  # the first pair is the warm-up
                    ours.append(mine[0])
                    baseline.append(theirs[0])
                    cpu["ours"] += mine[1]
                    cpu["baseline"] += theirs[1]
    ours_s, base_s = statistics.median(ours), statistics.median(baseline)
    megapixels = sum(w * h for w, h in PHOTO_SIZES) / len(PHOTO_SIZES) / 1e6
    return Result(
        "delivery",
        "fresh ?type=webp over HTTP (granian) vs the same pyvips conversion in-process",
        1 / ours_s,
        1 / base_s,
        "conversions/s",
        f"{count} photo-like JPEGs of {megapixels:.1f} MP on average "
        f"({sum(len(s) for s in sources[1:]) / count / 1e6:.1f} MB, Q=90), each another "
        "source object so each request converts; ours: `GET /files/{key}?type=webp`, its 302 "
        "followed to `/_storage/derived/webp/…` (HEAD the source, read it, convert, store the "
        "derivative with fsync, serve it); baseline: `new_from_buffer(src, "
        "access=sequential).webpsave_buffer(Q=82, effort=3, keep=none)` on the same bytes, "
        f"the two alternating; medians: ours {ours_s * 1000:.0f} ms, baseline "
        f"{base_s * 1000:.0f} ms; WebPs of {statistics.median(made) / 1e3:.0f} KB, whose "
        f"write (put with fsync, timed alone on the same store) took "
        f"{statistics.median(writes) * 1000:.1f} ms"
        + (
            f"; in CPU time (the server's process group against the baseline's; a busy "
            f"neighbour inflates wall time, not CPU time): "
            f"{cpu['baseline'] / cpu['ours']:.2f}"
            if cpu["ours"]
            else ""
        ),
    )


def run(quick: bool) -> list[Result]:
    ensure_repo_on_path()
    layers = _layers(quick)
    for row in layers:
        print(f"delivery: {row.case}: {row.ours:,.0f} vs {row.baseline:,.0f} req/s")
    layers.append(_fresh_webp(quick))
    print(f"delivery: {layers[-1].case}: {layers[-1].ratio:.2f} ({layers[-1].notes})")
    if shutil.which("wrk") is None:
        print("delivery: wrk is not installed (apt-get install wrk); skipped")
        return layers
    global DURATION
    DURATION = "1s" if quick else "4s"
    from sartiq_storage.adapters.stores import LocalStore
    from sartiq_storage.testing.media import image_bytes

    results: list[Result] = list(layers)
    key = "media/0b6f4a52-5a8e-4d0e-9f3c-6a1d2c3e4f50/file.png"
    bare_rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp:
        data_dir = Path(tmp) / "data"
        store = LocalStore(data_dir / "store")
        store.put(key, image_bytes("png", 800, 600), content_type="image/png")
        env = {
            "STORAGE_DATA_DIR": str(data_dir),
            "AUTH_JWT_SECRET": SECRET,
            "BARE_STATIC_DIR": str(Path(tmp) / "static"),
        }
        (Path(tmp) / "static").mkdir()
        for server in ("uvicorn", "granian"):
            ours_target = "sartiq_storage.interfaces.http.app:app_from_environment"
            with (
                _serve(server, ours_target, env, factory=True) as base,
                _serve(server, "bench.bare_redirect:app", env, factory=False) as bare_base,
            ):
                derived_url = f"{base}/files/{key}?type=webp"
                location = httpx.get(derived_url).headers["location"]
                local_derived = location.replace("http://127.0.0.1:8000", base)
                body = httpx.get(local_derived).content
                (Path(tmp) / "static" / "same.webp").write_bytes(body)
                ours, bare = _median_rates(f"{base}/files/{key}", f"{bare_base}/files/{key}")
                ours_derived, static = _median_rates(local_derived, f"{bare_base}/static/same.webp")
            bare_rates[server] = bare
            results.append(
                Result(
                    "delivery",
                    f"{server}: /files 302 vs bare Starlette 302",
                    ours,
                    bare,
                    "req/s",
                    "ours: the app's /files fast path (key validation, query check, CORS, "
                    "X-Request-ID, an access line at INFO to /dev/null)",
                )
            )
            results.append(
                Result(
                    "delivery",
                    f"{server}: cached ?type=webp vs StaticFiles",
                    ours_derived,
                    static,
                    "req/s",
                    f"{len(body):,}-byte WebP; ours: two stats (source, derivative), kept headers, "
                    + ("pathsend" if server == "granian" else "one read"),
                )
            )
        results.append(
            Result(
                "delivery",
                "servers: granian vs uvicorn on the bare 302",
                bare_rates["granian"],
                bare_rates["uvicorn"],
                "req/s",
                "uvicorn with uvloop and httptools; ratio > 1: granian is faster",
            )
        )
    return results
