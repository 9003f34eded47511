"""The serve process's signal handlers may run while the main thread holds the main loop's
event lock (inside ``Event.wait``, or inside a first signal's handler): granian's own handler
then deadlocks; ours returns and the relay thread wakes the loop once the lock is free.

Each case runs in a subprocess, so a handler that deadlocks fails the test instead of hanging
the suite."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCENARIO = textwrap.dedent(
    """
    import signal, sys
    from granian.constants import Interfaces
    from granian.server import Server
    from sartiq_storage.interfaces.cli.granian_server import SignalSafeServer

    cls = SignalSafeServer if sys.argv[1] == "ours" else Server
    server = cls("app:app", interface=Interfaces.ASGI)
    if cls is SignalSafeServer:
        server.start_signal_relay()
    event = server.main_loop_interrupt
    with event._cond:  # as the main thread holds it inside Event.wait or a first handler
        server.signal_handler_interrupt(signal.SIGTERM, None)
        server.signal_handler_interrupt(signal.SIGTERM, None)  # the forwarded second one
        server.signal_handler_reload(signal.SIGHUP, None)
    assert event.wait(5), "the main loop was never woken"
    assert server.interrupt_signal and server.reload_signal
    print("woken")
    """
)


def _run(which: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCENARIO, which], capture_output=True, text=True, timeout=20
    )


def test_handlers_return_while_the_lock_is_held_and_the_loop_wakes() -> None:
    result = _run("ours")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "woken"


def test_granians_own_handler_deadlocks_there() -> None:
    """The failure this module exists for: if granian fixes it, this test says so."""
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", SCENARIO, "granian"], timeout=3)
