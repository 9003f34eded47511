"""granian's server, with main-process signal handlers that cannot deadlock.

granian 2.8's main process sets a ``threading.Event`` inside its SIGTERM/SIGINT/SIGHUP
handlers. ``Event.set`` takes the event's lock, which is not reentrant; a handler runs in the
main thread between two bytecodes, so a signal that lands while that thread already holds the
lock (inside ``Event.wait``, or inside the handler of a first signal) blocks the process for
good. ``pkill -f`` plus a forwarded SIGTERM, or systemd's control-group stop, did exactly that
in CI: the serve process hung with two nested ``signal_handler_interrupt`` frames.

Here the handlers only record the signal and write one byte to a pipe (``os.write`` is
async-signal-safe); a thread reads the pipe and sets the event outside any handler.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

from granian.server import MPServer

__all__ = ["SignalSafeServer"]


class SignalSafeServer(MPServer):
    """granian's process-mode server whose stop and reload signals go through a pipe."""

    _wake_fd: int | None = None

    def start_signal_relay(self) -> None:
        """Open the pipe and the thread that turns its bytes into the main loop's wake-up."""
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)  # a full pipe drops a byte: one is enough to wake
        self._wake_fd = write_fd
        threading.Thread(
            target=self._relay, args=(read_fd,), name="granian-signals", daemon=True
        ).start()

    def _relay(self, read_fd: int) -> None:
        while os.read(read_fd, 64):
            self.main_loop_interrupt.set()

    def _wake(self) -> None:
        if self._wake_fd is None:  # signalled before startup: granian's own behaviour
            self.main_loop_interrupt.set()
            return
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_fd, b"\0")

    def signal_handler_interrupt(self, *args: Any, **kwargs: Any) -> None:
        self.interrupt_signal = True
        self._wake()

    def signal_handler_reload(self, *args: Any, **kwargs: Any) -> None:
        self.reload_signal = True
        self._wake()

    def startup(self, spawn_target: Any, target_loader: Any) -> None:
        self.start_signal_relay()  # before granian installs the handlers that use it
        super().startup(spawn_target, target_loader)  # type: ignore[no-untyped-call]
