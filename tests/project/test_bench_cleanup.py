"""A benchmark stops every process it started, also when it is interrupted.

``./run bench load`` once finished and left its granian servers running. The child below
starts servers the way the benchmarks do (``bench_load``'s ``serve`` with a granian worker, on
a PostgreSQL schema of its own when the tests have PostgreSQL, ``bench_delivery``'s bare
granian, moto), then is interrupted as an operator would do it, or ends normally.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.testing.process_group import (
    descendants,
    process_group,
    still_alive,
    stop_group,
)
from tests.support.db import postgres_url

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import contextlib, faulthandler, os, signal, sys, tempfile
from pathlib import Path
from sartiq_storage.testing.process_group import exit_on_sigterm
from sartiq_storage.testing.moto_server import moto_server
from bench import bench_delivery, bench_load

exit_on_sigterm()  # as `python -m bench` does
faulthandler.register(signal.SIGUSR1, all_threads=True)  # where it hangs, if it ever does
pg = bench_load._postgres_url()
with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
    env = {"AUTH_JWT_SECRET": "x" * 40}
    if pg is not None:  # bench_load's PostgreSQL row: its schema is dropped too
        env["DATABASE_URL"] = url = stack.enter_context(bench_load._postgres_schema(pg))
        print(url.rpartition("%3D")[2], flush=True)
    else:
        print("-", flush=True)
    bench_load._serve(stack, Path(tmp), "data", env)  # serve and its granian worker
    with bench_delivery._serve("granian", "bench.bare_redirect:app", {}, factory=False):
        with moto_server():
            print("ready", flush=True)
            sys.stdin.read()  # until the test closes it (a normal end) or a signal comes
"""


def _schema_exists(name: str) -> bool:
    url = postgres_url()
    assert url is not None
    db = Database.from_url(url, pool_size=1, max_overflow=0)
    try:
        with db.engine.connect() as conn:
            query = "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %(n)s"
            return bool(conn.exec_driver_sql(query, {"n": name}).scalar_one())
    finally:
        db.dispose()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, None], ids=str)
def test_an_interrupted_benchmark_leaves_no_process_behind(signum: int | None) -> None:
    """Interrupted, or at its normal end (``None``): no server left, no schema left."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    started: list[tuple[int, str]] = []
    try:
        assert child.stdout is not None
        assert child.stdin is not None
        schema = child.stdout.readline().strip()
        assert child.stdout.readline().strip() == "ready"
        started = descendants(child.pid)
        # serve (and its granian worker), bare granian (and its worker), moto
        assert len(started) >= 3, started
        if schema != "-":
            assert _schema_exists(schema)
        if signum is None:
            child.stdin.close()
        else:
            child.send_signal(signum)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:  # once in CI: show where the child was stuck
            child.send_signal(signal.SIGUSR1)
            time.sleep(2)
            tree = descendants(child.pid)
            pytest.fail(f"no exit 60 s after {signum}; tree: {tree}")
        deadline = time.monotonic() + 5  # the group is gone once the child has returned
        left = [p for p in started if still_alive(p)]
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = [p for p in started if still_alive(p)]
        assert left == [], f"still running after {signum}: {left}"
        if signum is None:
            assert child.returncode == 0
        if schema != "-":
            assert not _schema_exists(schema), f"schema {schema} left after {signum}"
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
