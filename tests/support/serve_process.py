"""``sartiq-storage serve`` in a child process, as an operator starts it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

SERVE = [sys.executable, "-m", "sartiq_storage.interfaces.cli", "serve"]
ENTRY_POINT = str(Path(sys.executable).with_name("sartiq-storage"))
"""The installed ``sartiq-storage`` command (the console script beside this Python)."""


@contextmanager
def serve_process(
    cwd: Path, port: int, *options: str, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[str]]:
    """The service on ``port`` with its embedded defaults under ``cwd`` (and ``env`` over the
    environment); its output (stdout and stderr together) can be read line by line. It runs
    in its own process group, so :func:`kill_hard` takes granian's workers down with it, as a
    host that dies would. Stopped when the block ends.

    ``LOG_LEVEL`` is ``WARNING`` unless the test sets it: a line per request into a pipe that
    nobody reads would block the server after a few hundred requests (set ``LOG_LEVEL=INFO``
    and read with :class:`Output` to see the access log)."""
    proc = subprocess.Popen(
        [*SERVE, "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        env={"LOG_LEVEL": "WARNING", **os.environ, "COLUMNS": "300", **(env or {})},
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        stop(proc)
        if proc.stdout is not None:
            proc.stdout.close()


def stop(proc: subprocess.Popen[Any], timeout: float = 15) -> None:
    """SIGTERM (a clean stop), then :func:`kill_hard` if it has not stopped in ``timeout``."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_hard(proc)


def kill_hard(proc: subprocess.Popen[Any]) -> None:
    """``kill -9`` of the process and everything in its group (granian's workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def get_once_up(url: str, *, attempts: int = 100) -> httpx.Response:
    """GET ``url`` as soon as the server accepts connections (polling every 0.1 s); the last
    attempt's error is raised if it never does."""
    for _ in range(attempts - 1):
        try:
            return httpx.get(url, timeout=1)
        except httpx.HTTPError:
            time.sleep(0.1)
    return httpx.get(url, timeout=1)


class Output:
    """The lines a child process prints, collected by a thread as they come (a test can wait
    for one without blocking on a line that never arrives)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._stream = proc.stdout
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._stream is not None
        for line in self._stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30) -> str:
        """The first line that satisfies ``predicate``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            end = len(self.lines)  # appended only: what was checked stays checked
            for line in self.lines[seen:end]:
                if predicate(line):
                    return line
            seen = end
            if time.monotonic() > deadline:
                raise AssertionError(f"no such line in:\n{chr(10).join(self.lines[-40:])}")
            time.sleep(0.05)
