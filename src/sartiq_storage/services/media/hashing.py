"""Hash an object while it streams, reading the next chunk while hashing the last.

hashlib releases the GIL on large buffers, so a reader thread keeps the store busy while the
caller's thread hashes: the cost approaches that of hashing bytes already in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
from collections.abc import Generator, Iterator

from sartiq_storage.adapters.stores import ObjectStore

_DONE = object()


def prefetched(chunks: Iterator[bytes], depth: int = 2) -> Generator[bytes]:
    """``chunks``, read ahead by ``depth`` on a thread of their own.

    Closing the result early (a ``break``, an error in the consumer) stops the reader after
    the chunk it is reading, and closes ``chunks`` (an HTTP body is not read to its end)."""
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    failure: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            for chunk in chunks:
                slots.put(chunk)
                if stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer below
            failure.append(exc)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            slots.put(_DONE)

    thread = threading.Thread(target=reader, name="object-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                break
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while thread.is_alive():  # unblock a reader waiting for room, until it stops
            with contextlib.suppress(queue.Empty):
                slots.get(timeout=0.05)
        thread.join()
    if failure:
        raise failure[0]


def stream_digests(store: ObjectStore, key: str, *names: str) -> dict[str, str]:
    """Hex digests (``md5``, ``sha256``…) of an object, read once as a stream."""
    digests = {
        name: hashlib.new(name, usedforsecurity=False) if name == "md5" else hashlib.new(name)
        for name in names or ("md5",)
    }
    with store.get(key) as stream:
        for chunk in prefetched(iter(stream)):
            for digest in digests.values():
                digest.update(chunk)
    return {name: digest.hexdigest() for name, digest in digests.items()}
