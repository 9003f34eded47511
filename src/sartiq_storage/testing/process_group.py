"""Child servers that are stopped with everything they started, however their parent ends.

A server started by a test or a benchmark (moto, ``sartiq-storage serve``, bare granian)
runs in a process group of its own: stopping it signals the whole group, so granian's
workers go with their parent instead of being left serving after the run. A group still
alive when the interpreter exits (an exception, Ctrl-C, a SIGTERM turned into an exit by
:func:`exit_on_sigterm`) is stopped by an ``atexit`` hook.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

_LIVE: set[subprocess.Popen[Any]] = set()
_LOCK = threading.Lock()


@contextmanager
def process_group(cmd: Sequence[str], **popen: Any) -> Iterator[subprocess.Popen[Any]]:
    """``subprocess.Popen(cmd, **popen)`` as the leader of a new process group (session),
    stopped with its whole group when the block ends."""
    proc: subprocess.Popen[Any] = subprocess.Popen(cmd, start_new_session=True, **popen)  # noqa: S603
    with _LOCK:
        _LIVE.add(proc)
    try:
        yield proc
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen[Any], timeout: float = 5) -> None:
    """SIGTERM to the group (a clean stop), then SIGKILL to whatever of it is left.

    The group gets ``timeout`` seconds to end; members still alive then (workers their
    leader did not wait for keep the group's id) are killed.
    """
    with _LOCK:
        _LIVE.discard(proc)
    _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)
    while group_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal_group(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def group_members(pgid: int) -> list[int]:
    """Living processes (not zombies) of process group ``pgid``, read from ``/proc``.

    Where there is no ``/proc``, the group's leader alone if it still answers signal 0.
    """
    if not Path("/proc").is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for member, stat in _stats():
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(member)
    return members


def descendants(pid: int) -> list[tuple[int, str]]:
    """Every living descendant of ``pid`` as (pid, start time), read from ``/proc``: the
    start time tells a process from a later one that got the same id."""
    children: dict[int, list[tuple[int, str]]] = {}
    for member, stat in _stats():
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] not in ("Z", "X"):
            children.setdefault(int(fields[1]), []).append((member, fields[19]))
    found: list[tuple[int, str]] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child[0])
    return found


def still_alive(process: tuple[int, str]) -> bool:
    """Whether a process :func:`descendants` found still runs (a zombie does not)."""
    pid, started = process
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19] == started and fields[0] not in ("Z", "X")


def _stats() -> Iterator[tuple[int, str]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / "stat").read_text()
            except OSError:  # ended meanwhile
                continue


def _stop_all() -> None:
    with _LOCK:
        left = list(_LIVE)
    for proc in left:
        stop_group(proc, timeout=3)


atexit.register(_stop_all)


def exit_on_sigterm() -> None:
    """Turn SIGTERM and SIGHUP into ``SystemExit`` in the main thread, so ``finally`` blocks
    and the ``atexit`` hook stop child groups (the default action ends the process on the
    spot). Ctrl-C raises ``KeyboardInterrupt``, also where SIGINT was inherited ignored."""

    def leave(signum: int, _frame: FrameType | None) -> None:
        sys.exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, leave)
    # A process started in the background by a shell without job control inherits SIGINT
    # ignored, and Python then installs no KeyboardInterrupt: a kill -INT would be lost.
    signal.signal(signal.SIGINT, signal.default_int_handler)
