"""``sartiq-storage serve`` in a child process, as an operator starts it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

SERVE = [sys.executable, "-m", "sartiq_storage.interfaces.cli", "serve"]


@contextmanager
def serve_process(cwd: Path, port: int, *options: str) -> Iterator[subprocess.Popen[str]]:
    """The service on ``port`` with its embedded defaults under ``cwd``; its output (stdout
    and stderr together) can be read line by line. Stopped when the block ends.

    ``LOG_LEVEL`` is ``WARNING`` unless the test sets it: a line per request into a pipe that
    nobody reads would block the server after a few hundred requests (set ``LOG_LEVEL=INFO``
    and read with :class:`Output` to see the access log)."""
    proc = subprocess.Popen(
        [*SERVE, "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        env={"LOG_LEVEL": "WARNING", **os.environ, "COLUMNS": "300"},
    )
    try:
        yield proc
    finally:
        proc.terminate()
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
