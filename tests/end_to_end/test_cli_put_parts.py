"""``sartiq-storage put`` of a big file: in parts, and resumed after an interruption.

The installed command in a subprocess, as an operator runs it: on the embedded default
(killed with SIGKILL mid-way, as a crash leaves it) and on moto behind a proxy that fails
every attempt at the third part (a network that drops), then run again without the fault.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from sartiq_storage.core.multipart import MIB
from sartiq_storage.testing.moto_server import make_bucket, moto_client
from tests.support.cli import ENTRY_POINT, sartiq
from tests.support.fault_proxy import fault_proxy
from tests.support.s3_servers import S3Server

KEY = "compute/video_generation/7f1c0de0-0000-4000-8000-000000000001/clip.mp4"
PARTS = ["--threshold", str(5 * MIB), "--part-size", str(5 * MIB)]


def _file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def _state_files(work: Path) -> list[Path]:
    return sorted((work / "data" / "uploads").glob("*.json"))


def test_put_in_parts_on_the_embedded_store(tmp_path: Path) -> None:
    data = _file(tmp_path / "clip.mp4", 12 * MIB + 123)
    put = sartiq("put", "clip.mp4", KEY, *PARTS, cwd=tmp_path)
    assert put.returncode == 0, put.stderr
    assert f"stored {KEY} ({len(data)} bytes in 3 parts" in put.stdout
    got = sartiq("get", KEY, "back.mp4", cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "back.mp4").read_bytes() == data
    assert _state_files(tmp_path) == []
    small = sartiq("put", "clip.mp4", KEY, "--threshold", str(64 * MIB), cwd=tmp_path)
    assert small.returncode == 0
    assert "parts" not in small.stdout
    refused = sartiq("put", "clip.mp4", KEY, *PARTS, "--if-absent", cwd=tmp_path)
    assert refused.returncode == 1
    assert "exists" in refused.stderr


def test_a_killed_put_resumes_on_the_embedded_store(tmp_path: Path) -> None:
    data = _file(tmp_path / "clip.mp4", 40 * MIB + 7)
    argv = [str(ENTRY_POINT), "put", "clip.mp4", KEY, *PARTS, "--concurrency", "1"]
    proc = subprocess.Popen(
        argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            states = _state_files(tmp_path)
            if states:
                try:
                    done = json.loads(states[0].read_text())["done"]
                except (OSError, ValueError):
                    done = {}
                if done:
                    break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.002)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert _state_files(tmp_path), "the state file outlives the crash"
    again = sartiq("put", "clip.mp4", KEY, *PARTS, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "resumed:" in again.stderr
    assert "of 9 parts were already stored" in again.stderr
    assert sartiq("get", KEY, "back.mp4", cwd=tmp_path).returncode == 0
    assert (tmp_path / "back.mp4").read_bytes() == data
    assert _state_files(tmp_path) == []


def test_a_put_cut_by_the_network_resumes_on_moto(tmp_path: Path, moto_endpoint: str) -> None:
    server = S3Server("moto", moto_endpoint)
    bucket = make_bucket(moto_endpoint)
    settings = server.settings(bucket) | {"AUTH_JWT_SECRET": "cli-parts-secret-" + "0" * 32}
    data = _file(tmp_path / "clip.mp4", 12 * MIB + 5)

    def third_part_fails(method: str, path: str, _: int) -> str | None:
        return "500" if method == "PUT" and "partNumber=3" in path else None

    with fault_proxy(moto_endpoint, third_part_fails) as (proxied, _):
        env = settings | {"R2_ENDPOINT_URL": proxied}
        cut = sartiq("put", "clip.mp4", KEY, *PARTS, "--concurrency", "1", env=env, cwd=tmp_path)
    assert cut.returncode == 1, cut.stdout
    assert "run the same command again to resume" in cut.stderr
    assert "Traceback" not in cut.stderr
    state = json.loads(_state_files(tmp_path)[0].read_text())
    assert sorted(state["done"]) == ["1", "2"]

    again = sartiq("put", "clip.mp4", KEY, *PARTS, env=settings, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "resumed: 2 of 3 parts were already stored" in again.stderr
    stored = moto_client(moto_endpoint).get_object(Bucket=bucket, Key=KEY)["Body"].read()
    assert stored == data
    assert _state_files(tmp_path) == []
