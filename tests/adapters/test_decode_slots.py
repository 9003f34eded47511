"""The decode slots give freed memory back once no decode runs or waits: a decode waiting
for a slot would take the same memory again, so trimming in between is wasted work."""

from __future__ import annotations

import threading
import time

import pytest

from sartiq_storage.adapters import vips
from sartiq_storage.adapters.vips import DecodeSlots


def test_memory_is_trimmed_once_the_last_waiting_decode_is_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trims: list[int] = []
    real = vips.release_memory

    def counted() -> None:
        trims.append(1)
        real()

    monkeypatch.setattr(vips, "release_memory", counted)
    slots = DecodeSlots(limit=1, wait=10)
    first_in, let_go = threading.Event(), threading.Event()

    def first() -> None:
        with slots.held():
            first_in.set()
            let_go.wait(10)

    holder = threading.Thread(target=first)
    holder.start()
    assert first_in.wait(10)
    waiter_done = threading.Event()

    def waiting() -> None:
        with slots.held():
            pass
        waiter_done.set()

    second = threading.Thread(target=waiting)
    second.start()
    deadline = time.monotonic() + 10
    while slots._waiting == 0 and time.monotonic() < deadline:  # the second is queued
        time.sleep(0.001)
    assert slots._waiting == 1
    let_go.set()
    holder.join(10)
    second.join(10)
    assert waiter_done.is_set()
    assert len(trims) == 1  # after the second decode, not between the two


def test_a_lone_decode_still_gives_its_memory_back(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(vips, "release_memory", lambda: trims.append(1))
    slots = DecodeSlots(limit=2, wait=1)
    with slots.held():
        with slots.held():  # the same thread's nested decode keeps its slot
            pass
        assert trims == []
    assert trims == [1]
