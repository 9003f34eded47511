"""``serve`` stops when every one of its processes gets SIGTERM at once, as ``pkill`` and
systemd's control-group stop send it, and its main process gets a second one: granian's own
main-process handler deadlocked on its event's lock when two signals nested (CI, 1 run in
~35 here); ``interfaces/cli/granian_server.py`` replaces it, and
``tests/interfaces/cli/test_granian_server.py`` replays the nesting deterministically."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from sartiq_storage.interfaces.cli.server import WORKER_STOP_SECONDS
from sartiq_storage.testing.moto_server import free_port
from tests.support.serve_process import get_once_up, serve_process


def _alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_to_every_process_stops_the_server(tmp_path: Path) -> None:
    for _ in range(3):  # the hang is a race: give it a few chances to show
        port = free_port()
        with serve_process(tmp_path, port) as proc:
            assert get_once_up(f"http://127.0.0.1:{port}/healthz").status_code == 200
            os.killpg(proc.pid, signal.SIGTERM)  # the parent and its worker, together
            os.kill(proc.pid, signal.SIGTERM)  # and the parent again, as `timeout` forwards it
            try:
                proc.wait(timeout=WORKER_STOP_SECONDS + 15)
            except subprocess.TimeoutExpired:
                raise AssertionError("serve did not stop after SIGTERM to its processes") from None
            assert not _alive(proc.pid), "a worker outlived the server"
