"""Sustained load: ``/files`` and the presign endpoint, ``sartiq-storage serve`` under ``wrk``.

The service runs as ``sartiq-storage serve`` (granian, one worker) in its own process on the
embedded defaults in a temporary folder; ``wrk`` is the load generator, another process, on
loopback. The server's memory (RSS of its whole process tree) is read from ``/proc`` every
second while the load runs.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.harness import REPO_ROOT, Result, ensure_repo_on_path, tree_cpu, tree_rss

TITLE = "Sustained load"
DESCRIPTION = """\
`sartiq-storage serve` (granian, one worker, embedded defaults: local disk and SQLite, in a
temporary folder) in its own process, driven by `wrk -t1 -c32 --latency` from another process
on loopback for 60 s per endpoint (quick: 6 s) in 6 rounds (quick: 3) alternating with the
baseline, each side first in turn, after a 3-second warm-up of each: `GET /files/{key}`
(its 302) and `POST /api/v1/uploads/presigned-url` (a bearer token, a JSON body with a size;
each call also records an upload intent: in SQLite, and in a second row in PostgreSQL, a
`serve` with `DATABASE_URL` on a fresh schema of `SARTIQ_BENCH_DATABASE_URL` or
`SARTIQ_TEST_DATABASE_URL`, dropped afterwards). Baseline: the same wrk against bare
Starlette under the same server (`bench/bare_redirect.py`: the same 302; a presign route that
parses the JSON and answers a fixed JSON of the same shape), for the same time (all servers
are up for the whole run; the idle ones cost nothing). Rates and latencies are the median
round's; a noisy neighbour hurts both sides alike instead of skewing the ratio. Errors are
wrk's non-2xx/3xx answers plus socket errors, and must be 0. Memory is the server's RSS
(process tree, `/proc`), sampled every second: at the start of the load, at its end, the
maximum, and the least-squares slope after a warm-up of 10 s (quick: 1 s); "flat" means it
grew less than 5 MB over the rest of the run. Server CPU is the user and system time of each
server's process tree (`/proc`) over its rounds, per request answered: what a request costs,
whatever else the machine runs (PostgreSQL's own processes are not counted). The machine has
2 cores, shared with other work during the run, so absolute figures are low: the ratio, the
CPU per request and the memory are what count. One case or a few: `BENCH_LOAD_CASES=files`
(also `presign-sqlite`, `presign-postgres`).
"""

SECRET = "bench-load-secret-0123456789abcdef0123456789"
KEY = "media/0b6f4a52-5a8e-4d0e-9f3c-6a1d2c3e4f50/file.png"
PRESIGN_BODY = '{"filename":"photo.png","content_type":"image/png","size":12345}'
FLAT_MB = 5.0


@dataclass
class Sampler:
    """RSS of a process tree every ``every`` seconds, in a thread."""

    pid: int
    every: float = 1.0
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Sampler:
        start = time.monotonic()

        def loop() -> None:
            while not self._stop.is_set():
                self.samples.append((time.monotonic() - start, tree_rss(self.pid)))
                self._stop.wait(self.every)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.samples.append((self.samples[-1][0] + self.every, tree_rss(self.pid)))

    def memory(self, warmup: float) -> dict[str, float]:
        mb = [(t, rss / 1e6) for t, rss in self.samples]
        after = [(t, m) for t, m in mb if t >= warmup] or mb
        n = len(after)
        mean_t = sum(t for t, _ in after) / n
        mean_m = sum(m for _, m in after) / n
        var = sum((t - mean_t) ** 2 for t, _ in after)
        slope = sum((t - mean_t) * (m - mean_m) for t, m in after) / var if var else 0.0
        return {
            "start": mb[0][1],
            "end": mb[-1][1],
            "max": max(m for _, m in mb),
            "slope_mb_per_min": slope * 60,
            "growth_after_warmup": after[-1][1] - after[0][1],
        }


@dataclass(frozen=True)
class WrkResult:
    rate: float
    requests: int
    p50_ms: float
    p99_ms: float
    non_2xx_3xx: int
    socket_errors: int


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise RuntimeError(f"wrk printed an odd latency: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _wrk(url: str, seconds: int, script: Path | None = None) -> WrkResult:
    cmd = ["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not (rate and total and p50 and p99):
        raise RuntimeError(f"wrk printed no figures: {out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        rate=float(rate.group(1)),
        requests=int(total.group(1)),
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        non_2xx_3xx=int(bad.group(1)) if bad else 0,
        socket_errors=sum(int(g) for g in sock.groups()) if sock else 0,
    )


@contextmanager
def _process(cmd: list[str], env: dict[str, str], cwd: Path, ready: str) -> Iterator[int]:
    ensure_repo_on_path()
    from sartiq_storage.testing.process_group import process_group

    with process_group(
        cmd,
        env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)},
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as proc:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(ready, timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{cmd} did not start") from None
                time.sleep(0.2)
        yield proc.pid


def _presign_script(folder: Path, token: str) -> Path:
    script = folder / "presign.lua"
    body = PRESIGN_BODY.replace("\\", "\\\\").replace('"', '\\"')
    script.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = "{body}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    return script


def _check_presign(base: str, token: str) -> None:
    answer = httpx.post(
        f"{base}/api/v1/uploads/presigned-url",
        content=PRESIGN_BODY,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    if answer.status_code != 200 or "upload_url" not in answer.json():
        raise RuntimeError(f"presign does not answer as expected: {answer.text}")


def _median(rounds: list[WrkResult]) -> WrkResult:
    """The median round's rate and latencies; requests and errors summed over the rounds."""
    return WrkResult(
        rate=statistics.median(r.rate for r in rounds),
        requests=sum(r.requests for r in rounds),
        p50_ms=statistics.median(r.p50_ms for r in rounds),
        p99_ms=statistics.median(r.p99_ms for r in rounds),
        non_2xx_3xx=sum(r.non_2xx_3xx for r in rounds),
        socket_errors=sum(r.socket_errors for r in rounds),
    )


def _notes(
    ours: WrkResult,
    bare: WrkResult,
    memory: dict[str, float],
    warmup: float,
    cpu_us: tuple[float, float],
) -> str:
    errors = ours.non_2xx_3xx + ours.socket_errors
    flat = "flat" if memory["growth_after_warmup"] < FLAT_MB else "NOT FLAT"
    return (
        f"{ours.requests:,} requests, errors {errors} "
        f"(non-2xx/3xx {ours.non_2xx_3xx}, socket {ours.socket_errors}); "
        f"median round p50 {ours.p50_ms:.2f} ms, p99 {ours.p99_ms:.2f} ms "
        f"(bare: {bare.p50_ms:.2f} / {bare.p99_ms:.2f} ms, errors "
        f"{bare.non_2xx_3xx + bare.socket_errors}); "
        f"server CPU {cpu_us[0]:.0f} µs a request (bare: {cpu_us[1]:.0f}); "
        f"RSS {memory['start']:.0f} MB at start, {memory['end']:.0f} at end, "
        f"max {memory['max']:.0f}; after {warmup:.0f} s: {memory['growth_after_warmup']:+.1f} MB, "
        f"slope {memory['slope_mb_per_min']:+.2f} MB/min ({flat})"
    )


CASES = ("files", "presign-sqlite", "presign-postgres")


def _chosen() -> set[str]:
    """Every case, or those named in ``BENCH_LOAD_CASES`` (``files,presign-sqlite,…``)."""
    chosen = set(os.environ.get("BENCH_LOAD_CASES", "").replace(",", " ").split())
    unknown = chosen - set(CASES)
    if unknown:
        raise ValueError(f"unknown cases {sorted(unknown)}; known: {list(CASES)}")
    return chosen or set(CASES)


PG_ENV = ("SARTIQ_BENCH_DATABASE_URL", "SARTIQ_TEST_DATABASE_URL")
"""Where the PostgreSQL row's server gets a fresh schema (the first one set); neither set:
no PostgreSQL row."""


def _postgres_url() -> str | None:
    return next((os.environ[name] for name in PG_ENV if os.environ.get(name)), None)


@contextmanager
def _postgres_schema(url: str) -> Iterator[str]:
    """A ``DATABASE_URL`` on a fresh schema of ``url``'s database, dropped afterwards (also
    when the run is interrupted): nothing clashes with the tests' own schemas."""
    from sartiq_storage.adapters.db.engine import Database

    schema = f"bench_load_{uuid.uuid4().hex[:12]}"
    admin = Database.from_url(url, pool_size=1, max_overflow=0)
    try:
        with admin.engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
        finally:
            with admin.engine.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    finally:
        admin.dispose()


def _serve(stack: ExitStack, folder: Path, name: str, env: dict[str, str]) -> tuple[str, int]:
    """``sartiq-storage serve`` (one worker) on the embedded store in ``folder/name``."""
    from sartiq_storage.adapters.stores import LocalStore
    from sartiq_storage.testing.media import image_bytes
    from sartiq_storage.testing.moto_server import free_port

    port = free_port()
    data_dir = folder / name
    store = LocalStore(data_dir / "store")
    for seed in range(5):
        key = KEY if seed == 0 else KEY.replace("file.png", f"file{seed}.png")
        store.put(key, image_bytes("png", 320, 240, seed=seed), content_type="image/png")
    base = f"http://127.0.0.1:{port}"
    env = {
        "STORAGE_DATA_DIR": str(data_dir),
        "AUTH_JWT_SECRET": SECRET,
        "STORAGE_SERVICE_URL": base,
        **env,
    }
    serve = [sys.executable, "-m", "sartiq_storage.interfaces.cli", "serve"]
    serve += ["--port", str(port), "--workers", "1"]
    pid = stack.enter_context(_process(serve, env, folder, f"{base}/healthz"))
    return base, pid


def run(quick: bool) -> list[Result]:
    ensure_repo_on_path()
    if shutil.which("wrk") is None:
        print("load: wrk is not installed (apt-get install wrk); skipped")
        return []
    from sartiq_storage.core.tokens import issue_token

    seconds = 6 if quick else 60
    rounds = 3 if quick else 6
    warmup = 1.0 if quick else 10.0
    token = issue_token(SECRET, "bench")
    chosen = _chosen()
    pg_url = _postgres_url() if "presign-postgres" in chosen else None
    if pg_url is None and "presign-postgres" in chosen:
        print(f"load: no PostgreSQL row (set {' or '.join(PG_ENV)})")
    # (label, server, path, wrk script); each row's baseline is measured right after it.
    cases: list[tuple[str, str, str, bool]] = []
    if "files" in chosen:
        label = f"GET /files/{{key}} 302, {seconds} s vs bare Starlette 302"
        cases.append((label, "sqlite", "files", False))
    if "presign-sqlite" in chosen:
        label = f"POST presigned-url, SQLite, {seconds} s vs bare JSON route"
        cases.append((label, "sqlite", "presign", True))
    if pg_url is not None:
        label = f"POST presigned-url, PostgreSQL, {seconds} s vs bare JSON route"
        cases.append((label, "postgres", "presign", True))
    paths = {"files": f"/files/{KEY}", "presign": "/api/v1/uploads/presigned-url"}
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        script = _presign_script(folder, token)
        servers = {"sqlite": _serve(stack, folder, "sqlite", {})}
        if pg_url is not None:
            database_url = stack.enter_context(_postgres_schema(pg_url))
            servers["postgres"] = _serve(stack, folder, "postgres", {"DATABASE_URL": database_url})
        from sartiq_storage.testing.moto_server import free_port

        bare_port = free_port()
        bare_base = f"http://127.0.0.1:{bare_port}"
        granian = [sys.executable, "-m", "granian", "--interface", "asgi", "--workers", "1"]
        granian += ["--host", "127.0.0.1", "--port", str(bare_port), "--log-level", "warning"]
        bare_env = {"BARE_REDIRECT_BASE": f"{servers['sqlite'][0]}/_storage/public"}
        bare_pid = stack.enter_context(
            _process(
                [*granian, "bench.bare_redirect:app"], bare_env, REPO_ROOT, f"{bare_base}/files/x"
            )
        )
        for base, _ in servers.values():
            _check_presign(base, token)
        for label, server, case, signed in cases:
            base, pid = servers[server]
            lua = script if signed else None
            url, bare_url = f"{base}{paths[case]}", f"{bare_base}{paths[case]}"
            _wrk(url, 3, lua)  # warm-ups, not counted
            _wrk(bare_url, 3, lua)
            ours_rounds: list[WrkResult] = []
            bare_rounds: list[WrkResult] = []
            cpu = {pid: 0.0, bare_pid: 0.0}
            with Sampler(pid) as sampler:
                for turn in range(rounds):  # alternating, each side first in turn
                    sides = [(url, pid, ours_rounds), (bare_url, bare_pid, bare_rounds)]
                    for target, server_pid, kept in sides if turn % 2 == 0 else sides[::-1]:
                        before = tree_cpu(server_pid)
                        kept.append(_wrk(target, seconds // rounds, lua))
                        cpu[server_pid] += tree_cpu(server_pid) - before
            memory = sampler.memory(warmup)
            measured, bare = _median(ours_rounds), _median(bare_rounds)
            cpu_us = (
                1e6 * cpu[pid] / max(measured.requests, 1),
                1e6 * cpu[bare_pid] / max(bare.requests, 1),
            )
            results.append(
                Result(
                    "load",
                    label,
                    measured.rate,
                    bare.rate,
                    "req/s",
                    _notes(measured, bare, memory, warmup, cpu_us),
                )
            )
            errors = measured.non_2xx_3xx + measured.socket_errors
            if errors:
                print(f"load: {label} had {errors} errors under load")
    return results
