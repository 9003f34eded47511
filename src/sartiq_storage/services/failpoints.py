"""Named failure points, so tests can crash an operation between any two of its steps.

Production code calls :func:`hit` at each step; it costs one dictionary lookup. Tests arm a
point with :func:`armed` to raise there (or to run any callable, such as ``os._exit``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

_ARMED: dict[str, Callable[[], None]] = {}


class InjectedFailure(RuntimeError):
    """Raised by an armed failpoint."""


def hit(name: str) -> None:
    action = _ARMED.get(name)
    if action is not None:
        action()


@contextmanager
def armed(name: str, action: Callable[[], None] | None = None) -> Iterator[None]:
    def fail() -> None:
        raise InjectedFailure(name)

    _ARMED[name] = action or fail
    try:
        yield
    finally:
        _ARMED.pop(name, None)


def arm(name: str, action: Callable[[], None] | None = None) -> None:
    """Arm without a context (for a child process that will die at the point)."""

    def fail() -> None:
        raise InjectedFailure(name)

    _ARMED[name] = action or fail


def disarm_all() -> None:
    _ARMED.clear()
