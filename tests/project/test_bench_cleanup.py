"""A benchmark stops every process it started, also when it is interrupted.

``./run bench load`` once finished and left its granian servers running. The child below
starts servers the way the benchmarks do (``bench_load``'s ``serve`` with a granian worker,
``bench_delivery``'s bare granian, moto), then is interrupted as an operator would do it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sartiq_storage.testing.process_group import (
    descendants,
    process_group,
    still_alive,
    stop_group,
)

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import faulthandler, signal, sys, tempfile, time
from pathlib import Path
from sartiq_storage.testing.process_group import exit_on_sigterm
from sartiq_storage.testing.moto_server import moto_server
from bench import bench_delivery, bench_load

exit_on_sigterm()  # as `python -m bench` does
faulthandler.register(signal.SIGUSR1, all_threads=True)  # where it hangs, if it ever does
with tempfile.TemporaryDirectory() as tmp:
    port = bench_load._free_port()
    env = {"STORAGE_DATA_DIR": tmp, "AUTH_JWT_SECRET": "x" * 40}
    serve = [sys.executable, "-m", "sartiq_storage.interfaces.cli", "serve", "--port", str(port)]
    with bench_load._process(serve, env, Path(tmp), f"http://127.0.0.1:{port}/healthz"):
        with bench_delivery._serve("granian", "bench.bare_redirect:app", {}, factory=False):
            with moto_server():
                print("ready", flush=True)
                time.sleep(120)
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_benchmark_leaves_no_process_behind(signum: int) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"},
        stdout=subprocess.PIPE,
        text=True,
    )
    started: list[tuple[int, str]] = []
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        started = descendants(child.pid)
        # serve (and its granian worker), bare granian (and its worker), moto
        assert len(started) >= 3, started
        child.send_signal(signum)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:  # once in CI: show where the child was stuck
            child.send_signal(signal.SIGUSR1)
            time.sleep(2)
            tree = descendants(child.pid)
            pytest.fail(f"no exit 60 s after {signal.Signals(signum).name}; tree: {tree}")
        deadline = time.monotonic() + 5  # the group is gone once the child has returned
        left = [p for p in started if still_alive(p)]
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = [p for p in started if still_alive(p)]
        assert left == [], f"still running after {signal.Signals(signum).name}: {left}"
    finally:
        child.kill()
        child.wait()
        for pid, _ in [p for p in started if still_alive(p)]:  # never leave them to others
            os.kill(pid, signal.SIGKILL)


STUBBORN_WORKER = """
import os, signal, time
if os.fork() == 0:  # a worker that outlives its leader, as granian's did
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(120)
else:
    print("ready", flush=True)
    time.sleep(120)
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")
def test_a_worker_that_ignores_sigterm_is_stopped_with_its_leader() -> None:
    with process_group(
        [sys.executable, "-c", STUBBORN_WORKER], stdout=subprocess.PIPE, text=True
    ) as leader:
        assert leader.stdout is not None
        assert leader.stdout.readline().strip() == "ready"
        # The leader's own tree only: this test process (an xdist worker) also runs the
        # session's S3 servers, which must outlive this test.
        started = descendants(leader.pid)
        assert len(started) >= 1, "the stubborn worker did not start"
        stop_group(leader, timeout=1)
    leader.stdout.close()
    assert [p for p in started if still_alive(p)] == []
