"""The datasets' S3 gateway: reads against the backing store, listings against branch size,
and server memory while a very large object streams up and down."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

from bench.harness import MB, REPO_ROOT, Result, cpu_seconds, measure, process_tree, rss_bytes
from sartiq_storage.core.config import load_settings
from sartiq_storage.core.datasets.model import Entry
from sartiq_storage.datasets import open_engine
from sartiq_storage.testing.moto_server import (
    TEST_KEY_ID,
    TEST_SECRET,
    free_port,
    make_bucket,
    moto_client,
    moto_server,
    moto_settings,
)
from sartiq_storage.testing.process_group import process_group

TITLE = "S3 gateway"
DESCRIPTION = """\
`sartiq-storage serve --s3-gateway-port` in its own process, asked by boto3 over HTTP on
127.0.0.1 (path-style, Signature V4 with a signed payload).

**GetObject** of a 1 MB and a 64 MB object through the gateway, with the engine's store on
moto's S3 server (a real process), against boto3 reading **the same bytes straight from that
store** (the blob's key in the bucket) in the same run: the gateway's price is its hop,
signature check, ref resolution and stat. Target: ratio ≥ 0.8. A third side is the floor of
any Python proxy: `bench/bare_proxy.py`, bare Starlette under granian streaming the same blob
from moto with obstore (the gateway's S3 client), no signature, no metadata. The three sides
are read by boto3 in one loop, their order rotating round by round; each row gives the range
of its per-round ratios, so the noise of a shared machine shows, and the CPU each side costs
a GET, process by process (proxy+moto+boto3, from `/proc`): on two cores the three share
the CPUs, so the proxy's CPU is what a proxied GET pays on top, and it is steadier than the
wall-clock ratio. `BENCH_S3_GATEWAY_SOCKET_FLOOR=1` adds a fourth side, a probe:
`bench/bare_socket_proxy.py` reads the store's body from a plain socket instead of obstore
(see `docs/datasets.md`, "The S3 gateway's GET throughput"). `BENCH_S3_GATEWAY_NGINX_FLOOR=1`
adds another probe where nginx is installed: nginx as a plain reverse proxy in front of moto
(one worker, upstream keep-alive, no auth), the floor of a compiled proxy on this machine.
Run only these cases with
`BENCH_S3_GATEWAY_CASES=get` (also `list`, `streaming`).

**ListObjectsV2**, one page of 1,000 keys from the middle of a branch (`StartAfter`), on a
branch of 1,000,000 committed objects (quick: 100,000) against the same page on a branch of
10,000, on the embedded default (SQLite, local disk). The engine seeks through the metarange
to the marker, so the cost follows the page, not the branch. Target: ratio ≥ 0.8.

**Streaming**: one 2 GB object (quick: 256 MB) PUT through the gateway and read back, while
the serving processes' resident memory is sampled every 50 ms. Here ratio = peak RSS growth /
object size: **below 1 the server holds less than the object** (flat memory is a few MB).
"""

KEY_ID = "AKIABENCHGATEWAY0001"
SECRET = "bench-secret-of-the-s3-gateway-0123456789"


def _client(endpoint: str, key: str = KEY_ID, secret: str = SECRET) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=4),
    )


def _wait_up(url: str, proc: subprocess.Popen[Any], what: str, tries: int = 300) -> None:
    """Until ``url`` answers at all (every 0.1 s, ``tries`` times); a ``proc`` that ended
    first is an error naming ``what``."""
    for _ in range(tries):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)


@contextmanager
def _serve(folder: Path, env: dict[str, str]) -> Iterator[tuple[str, str, int]]:
    """``serve`` with the gateway; yields (API base, gateway endpoint, serve's pid)."""
    port, gateway_port = free_port(), free_port()
    environment = {
        **os.environ,
        "LOG_LEVEL": "WARNING",
        "STORAGE_DATA_DIR": str(folder / "data"),
        "DATASETS_ACCESS_KEY_ID": KEY_ID,
        "DATASETS_SECRET_ACCESS_KEY": SECRET,
        "AUTH_JWT_SECRET": "bench-only-jwt-secret-0123456789abcdef",
        **env,
    }
    command = [
        sys.executable,
        "-m",
        "sartiq_storage.interfaces.cli",
        "serve",
        "--port",
        str(port),
        "--s3-gateway-port",
        str(gateway_port),
    ]
    with process_group(
        command, cwd=folder, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        api, endpoint = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{gateway_port}"
        for url in (f"{api}/healthz", endpoint):
            _wait_up(url, proc, "serve", tries=600)
        yield api, endpoint, proc.pid


def _create_repository(api: str, name: str, namespace: str) -> None:
    reply = httpx.post(
        f"{api}/lakefs/api/v1/repositories",
        json={"name": name, "storage_namespace": namespace},
        auth=(KEY_ID, SECRET),
        timeout=60,
    )
    reply.raise_for_status()


def _get_round(client: Any, bucket: str, key: str) -> Callable[[int], float]:
    def one(_: int) -> float:
        start = time.perf_counter()
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        while body.read(1024 * 1024):
            pass
        return time.perf_counter() - start

    return one


@contextmanager
def _bare_proxy(
    moto: str, bucket: str, app: str = "bench.bare_proxy:app"
) -> Iterator[tuple[str, int]]:
    """``bench/bare_proxy.py`` (or ``app``) under granian, one worker, as the gateway runs:
    the floor; yields its endpoint and pid."""
    port = free_port()
    command = [sys.executable, "-m", "granian", "--interface", "asgi", "--workers", "1"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "BARE_PROXY_ENDPOINT": moto,
        "BARE_PROXY_BUCKET": bucket,
        "BARE_PROXY_KEY_ID": TEST_KEY_ID,
        "BARE_PROXY_SECRET": TEST_SECRET,
    }
    with process_group(
        [*command, app],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as proc:
        endpoint = f"http://127.0.0.1:{port}"
        _wait_up(endpoint, proc, "the bare proxy")
        yield endpoint, proc.pid


NGINX_CONF = """\
daemon off;
worker_processes 1;
error_log {folder}/error.log warn;
pid {folder}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {folder};
    proxy_temp_path {folder};
    upstream store {{ server {store}; keepalive 8; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://store;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_max_temp_file_size 0;
            proxy_buffers 8 1m;
            proxy_busy_buffers_size 2m;
        }}
    }}
}}
"""
"""nginx in front of moto, as plainly as it proxies: the request passed as is (moto does not
check the signature, so boto3's, made for nginx's address, goes through), 1 MiB buffers."""


@contextmanager
def _nginx_proxy(moto: str) -> Iterator[tuple[str, int]]:
    """nginx (``NGINX_CONF``) in the foreground of its own process group; yields its
    endpoint and the master's pid."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        conf = Path(folder) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(folder=folder, store=moto.split("//")[1], port=port))
        command = [shutil.which("nginx") or "nginx", "-c", str(conf), "-p", folder]
        with process_group(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
            endpoint = f"http://127.0.0.1:{port}"
            _wait_up(endpoint, proc, "nginx", tries=100)
            yield endpoint, proc.pid


class _CpuPerGet:
    """CPU per GET of each side, split by process: its proxy (none for the store; for the
    gateway all of ``serve``, whose API idles meanwhile), moto, and boto3 (this process).
    On a 2-core machine the three share the cores, so the proxy's CPU is what a proxied GET
    pays on top: the number to lower, and far steadier than a wall-clock ratio while other
    work runs."""

    def __init__(self, moto: list[int]) -> None:
        self.moto = moto
        self.totals: dict[str, list[float]] = {}

    def side(
        self, name: str, pids: list[int], gets: int, fn: Callable[[int], float]
    ) -> Callable[[int], float]:
        totals = self.totals.setdefault(name, [0.0, 0.0, 0.0, 0.0])

        def one(number: int) -> float:
            before = (cpu_seconds(pids), cpu_seconds(self.moto), time.process_time())
            seconds = fn(number)
            if number > 0:  # not the warm-up
                after = (cpu_seconds(pids), cpu_seconds(self.moto), time.process_time())
                for i, (b, a) in enumerate(zip(before, after, strict=True)):
                    totals[i] += a - b
                totals[3] += gets
            return seconds

        return one

    def note(self, name: str) -> str:
        """``name: proxy+moto+boto3=total`` in CPU ms per GET."""
        proxy, moto, client, gets = self.totals[name]
        parts = [1000 * value / gets for value in (proxy, moto, client)]
        shown = "+".join(f"{ms:.1f}" if ms < 10 else f"{ms:.0f}" for ms in (*parts, sum(parts)))
        return f"{name} {shown.rsplit('+', 1)[0]}={shown.rsplit('+', 1)[1]}"


def _three_way(sides: dict[str, Callable[[int], float]], rounds: int) -> dict[str, list[float]]:
    """Every side once a round, the order rotating round by round (a warm-up first)."""
    names = list(sides)
    for name in names:
        sides[name](0)
    times: dict[str, list[float]] = {name: [] for name in names}
    for number in range(1, rounds + 1):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            times[name].append(sides[name](number))
    return times


def _spread(ours: list[float], base: list[float]) -> str:
    """Min-max of the per-round ratios (base time / our time: above 1 we are faster)."""
    ratios = sorted(b / o for o, b in zip(ours, base, strict=True))
    return f"per-round ratios {ratios[0]:.2f}-{ratios[-1]:.2f}"


NGINX_FLOOR = "BENCH_S3_GATEWAY_NGINX_FLOOR"
"""Set (to anything), with nginx on the PATH: a side read through nginx proxying moto, and
its row against the store."""

SOCKET_FLOOR = "BENCH_S3_GATEWAY_SOCKET_FLOOR"
"""Set (to anything): a fourth side, ``bench/bare_socket_proxy.py`` (the body read from a
plain socket, not obstore), and its row against the store."""


def bench_get(quick: bool) -> list[Result]:
    """The gateway, a bare proxy (the floor of any Python proxy) and the store itself, each
    read by boto3, interleaved in one loop; three rows from the same rounds."""
    rounds = 5 if quick else 9
    results = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        moto_server() as moto,
        contextlib.ExitStack() as stack,
    ):
        content, bucket = make_bucket(moto), make_bucket(moto)
        env = {
            **moto_settings(moto, content),
            "STORAGE_BACKEND": "s3",
            "DATASETS_S3_ENDPOINT": moto,
            "DATASETS_S3_REGION": "us-east-1",
            "DATASETS_S3_ACCESS_KEY_ID": TEST_KEY_ID,
            "DATASETS_S3_SECRET_ACCESS_KEY": TEST_SECRET,
        }
        with (
            _serve(Path(tmp), env) as (api, endpoint, serve_pid),
            _bare_proxy(moto, bucket) as (bare, bare_pid),
        ):
            _create_repository(api, "bench", f"s3://{bucket}/datasets/bench")
            gateway, store, proxy = _client(endpoint), moto_client(moto), _client(bare)
            moto_pids = [pid for pid in process_tree(os.getpid()) if _is_moto(pid)]
            server = {"gateway": process_tree(serve_pid), "bare": process_tree(bare_pid)}
            socket_side = os.environ.get(SOCKET_FLOOR)
            if socket_side:
                floor, floor_pid = stack.enter_context(
                    _bare_proxy(moto, bucket, "bench.bare_socket_proxy:app")
                )
                server["socket"] = process_tree(floor_pid)
            nginx_side = os.environ.get(NGINX_FLOOR) and shutil.which("nginx")
            if nginx_side:
                nginx, nginx_pid = stack.enter_context(_nginx_proxy(moto))
                server["nginx"] = process_tree(nginx_pid)
            for size, label in ((1_000_000, "1 MB"), (64_000_000, "64 MB")):
                data = os.urandom(size)
                gateway.put_object(Bucket="bench", Key=f"main/{label}", Body=data)
                digest = hashlib.sha256(data).hexdigest()
                blob = f"datasets/bench/data/{digest[:2]}/{digest}"
                count = 20 if size < 10_000_000 else 1
                work = size * count / MB

                def repeat(fn: Callable[[int], float], n: int = count) -> Callable[[int], float]:
                    return lambda i: sum(fn(i) for _ in range(n))

                cpu = _CpuPerGet(moto_pids)
                extra = {}
                if socket_side:
                    read = repeat(_get_round(_client(floor), bucket, blob))
                    extra["socket"] = cpu.side("socket", server["socket"], count, read)
                if nginx_side:
                    read = repeat(_get_round(_client(nginx), bucket, blob))
                    extra["nginx"] = cpu.side("nginx", server["nginx"], count, read)
                times = _three_way(
                    {
                        **extra,
                        "gateway": cpu.side(
                            "gateway",
                            server["gateway"],
                            count,
                            repeat(_get_round(gateway, "bench", f"main/{label}")),
                        ),
                        "bare": cpu.side(
                            "bare", server["bare"], count, repeat(_get_round(proxy, bucket, blob))
                        ),
                        "store": cpu.side(
                            "store", [], count, repeat(_get_round(store, bucket, blob))
                        ),
                    },
                    rounds,
                )
                rate = {name: work / statistics.median(t) for name, t in times.items()}
                case = f"GetObject {label} (x{count} a round)"
                pairs: tuple[tuple[str, str, str, str], ...] = (
                    ("gateway", "store", "gateway vs the backing store", "target >= 0.8"),
                    (
                        "bare",
                        "store",
                        "bare proxy vs the backing store",
                        "the floor: bench/bare_proxy.py, obstore streamed by bare Starlette "
                        "under granian, no auth or metadata",
                    ),
                    (
                        "gateway",
                        "bare",
                        "gateway vs the bare proxy",
                        "what the gateway adds over the floor (SigV4, ref, lookup)",
                    ),
                )
                if socket_side:
                    pairs += (
                        (
                            "socket",
                            "store",
                            "socket-read proxy vs the backing store",
                            "a probe: bench/bare_socket_proxy.py, the body read by a plain "
                            "socket instead of obstore",
                        ),
                    )
                if nginx_side:
                    pairs += (
                        (
                            "nginx",
                            "store",
                            "nginx vs the backing store",
                            "a probe: nginx as a plain reverse proxy of moto (one worker, "
                            "keep-alive, 1 MiB buffers, no auth), a compiled proxy's floor",
                        ),
                    )
                for ours, base, what, note in pairs:
                    results.append(
                        Result(
                            "s3-gateway",
                            f"{case}, {what}",
                            rate[ours],
                            rate[base],
                            "MB/s",
                            f"store: moto's S3 server; boto3 on every side; {note}; "
                            + _spread(times[ours], times[base])
                            + f"; CPU ms per GET (proxy+moto+boto3): {cpu.note(ours)}, "
                            + cpu.note(base),
                        )
                    )
    return results


def _entries(count: int) -> Iterator[Entry]:
    for i in range(count):
        digest = f"{i:064x}"
        yield Entry(
            f"garments/{i % 997:03d}/img-{i:07d}.jpg",
            f"data/{digest[:2]}/{digest}",
            50_000,
            f"{i:032x}",
            "image/jpeg",
            1_700_000_000,
        )


def bench_list(quick: bool) -> list[Result]:
    big_n = 100_000 if quick else 1_000_000
    small_n = 10_000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = load_settings(STORAGE_DATA_DIR=folder / "data", STORAGE_BACKEND="local")
        engine = open_engine(settings)
        for name, count in (("big", big_n), ("small", small_n)):
            engine.create_repository(name, f"local://datasets/{name}")
            engine.stage_entries(name, "main", _entries(count))
            engine.commit(name, "main", f"{count} objects")
        middle = {
            name: sorted(e.path for e in _entries(count))[count // 2]
            for name, count in (("big", big_n), ("small", small_n))
        }
        engine.close()
        with _serve(folder, {"STORAGE_BACKEND": "local"}) as (_api, endpoint, _pid):
            client = _client(endpoint)

            def page(repo: str) -> Callable[[int], float]:
                def one(_: int) -> float:
                    start = time.perf_counter()
                    for _ in range(5):
                        listed = client.list_objects_v2(
                            Bucket=repo,
                            Prefix="main/",
                            StartAfter=f"main/{middle[repo]}",
                            MaxKeys=1000,
                        )
                        assert listed["KeyCount"] == 1000
                    return time.perf_counter() - start

                return one

            return [
                measure(
                    "s3-gateway",
                    f"ListObjectsV2 one page of 1,000 on {big_n:,} objects vs on {small_n:,}",
                    page("big"),
                    page("small"),
                    work=5,
                    unit="pages/s",
                    notes="from the middle of the branch (StartAfter); target >= 0.8",
                    rounds=5,
                )
            ]


def _is_moto(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"moto.server" in cmdline.read()
    except OSError:
        return False


class _Sampler:
    """Peak growth of any one serving process's RSS over its value before the transfer."""

    def __init__(self, root: int) -> None:
        self.pids = process_tree(root)
        self.before = {pid: rss_bytes(pid) for pid in self.pids}
        self.peak = dict(self.before)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], rss_bytes(pid))

    def __enter__(self) -> _Sampler:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def growth(self) -> int:
        return max(self.peak[p] - self.before[p] for p in self.pids)


def bench_streaming(quick: bool) -> list[Result]:
    size = 256 * 1024 * 1024 if quick else 2 * 1024 * 1024 * 1024
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "big.bin"
        with source.open("wb") as out:
            block = os.urandom(8 * 1024 * 1024)
            for _ in range(size // len(block)):
                out.write(block)
        with _serve(folder, {"STORAGE_BACKEND": "local"}) as (api, endpoint, pid):
            _create_repository(api, "stream", "local://datasets/stream")
            client = _client(endpoint)
            time.sleep(1)
            with _Sampler(pid) as up, source.open("rb") as body:
                start = time.perf_counter()
                client.put_object(Bucket="stream", Key="main/big.bin", Body=body)
                up_seconds = time.perf_counter() - start
            with _Sampler(pid) as down:
                start = time.perf_counter()
                stream = client.get_object(Bucket="stream", Key="main/big.bin")["Body"]
                received = 0
                while chunk := stream.read(1024 * 1024):
                    received += len(chunk)
                down_seconds = time.perf_counter() - start
            assert received == size
        for label, sampler, seconds in (("PUT", up, up_seconds), ("GET", down, down_seconds)):
            results.append(
                Result(
                    "s3-gateway",
                    f"{label} one {size / 1e9:.1f} GB object: server peak RSS growth vs its size",
                    sampler.growth / MB,
                    size / MB,
                    "MB",
                    f"{sampler.growth / MB:.1f} MB held at peak; {size / MB / seconds:.0f} MB/s; "
                    "ratio below 1: the server holds less than the object",
                )
            )
    return results


CASES = {"get": bench_get, "list": bench_list, "streaming": bench_streaming}


def run(quick: bool) -> list[Result]:
    """Every case, or those named in ``BENCH_S3_GATEWAY_CASES`` (``get,list,streaming``)."""
    chosen = os.environ.get("BENCH_S3_GATEWAY_CASES", "").replace(",", " ").split()
    unknown = set(chosen) - set(CASES)
    if unknown:
        raise ValueError(f"unknown cases {sorted(unknown)}; known: {sorted(CASES)}")
    return [row for name, case in CASES.items() if name in (chosen or CASES) for row in case(quick)]
