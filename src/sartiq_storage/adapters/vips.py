"""pyvips, set up for untrusted bytes: import it from here, never directly.

libvips can load dozens of formats, some through large libraries never meant for hostile
input (SVG through librsvg, PDF, ImageMagick, matrix and CSV text, raw pixels). Every byte we
decode came from a browser, so at import only the loaders of the formats the platform
accepts stay callable, and libvips' own "untrusted" flag blocks the rest if a build adds
more. SVG is therefore not decoded at all: it is refused at ingestion (``core/sniff.py``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pyvips

from sartiq_storage.core.errors import DecodersBusyError

ALLOWED_LOADERS = (
    "VipsForeignLoadJpeg",
    "VipsForeignLoadPng",
    "VipsForeignLoadNsgif",
    "VipsForeignLoadWebp",
    "VipsForeignLoadHeif",  # HEIC and AVIF
    "VipsForeignLoadTiff",
)


def restrict_loaders() -> None:
    """Block every loader but :data:`ALLOWED_LOADERS` (idempotent)."""
    pyvips.block_untrusted_set(True)
    pyvips.operation_block_set("VipsForeignLoad", True)
    for loader in ALLOWED_LOADERS:
        pyvips.operation_block_set(loader, False)


restrict_loaders()

# libvips' operation cache keeps recent results and their pixels alive (100 MB and 100
# operations by default); a server decodes each upload once, so it only holds memory.
pyvips.cache_set_max(0)
pyvips.cache_set_max_mem(0)
pyvips.cache_set_max_files(0)


_M_MMAP_THRESHOLD = -3
BIG_ALLOCATION = 1 << 20
"""Allocations from this size up get their own mapping, returned to the system when freed."""


def _glibc_memory() -> Callable[[], None]:
    """Set glibc up to give memory back, and return its ``malloc_trim(0)``.

    glibc raises its mmap threshold after each big free (up to 32 MB), so the next uploads'
    bytes land on the heap and stay in the RSS once freed (57 MB after one 28 MB ingest);
    a fixed threshold keeps big buffers in their own mappings. ``malloc_trim`` returns the
    heap freed by a decode. Both are no-ops where the C library is not glibc (musl, macOS).
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        trim, mallopt = (libc.malloc_trim, libc.mallopt) if libc else (None, None)
    except (OSError, AttributeError):
        trim = mallopt = None
    if trim is None or mallopt is None:
        return lambda: None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(_M_MMAP_THRESHOLD, BIG_ALLOCATION)
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def release() -> None:
        trim(0)

    return release


release_memory = _glibc_memory()


class DecodeSlots:
    """One process-wide cap on concurrent image decodes (ingest probes and rewrites, ``?type=``
    conversions): each can hold hundreds of MB near the pixel limit.

    A caller waits up to ``wait`` seconds for a slot, then gets :class:`DecodersBusyError`
    (HTTP 503 with ``Retry-After``). When the last decode in flight ends, freed memory is
    returned to the system.
    """

    def __init__(self, limit: int = 2, wait: float = 5.0) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._mine = threading.local()
        self.configure(limit, wait)

    def configure(self, limit: int, wait: float) -> None:
        """Set the cap (``STORAGE_MAX_CONCURRENT_DECODES``) and the wait
        (``STORAGE_DECODE_WAIT_SECONDS``); decodes in flight finish on the old cap."""
        if limit < 1 or wait < 0:
            raise ValueError("a decode cap needs limit >= 1 and wait >= 0")
        self.limit, self.wait = limit, wait
        self._slots = threading.BoundedSemaphore(limit)

    @contextmanager
    def held(self) -> Iterator[None]:
        """A slot for this thread's decode; a thread that holds one already keeps using it."""
        if getattr(self._mine, "depth", 0):
            self._mine.depth += 1
            try:
                yield
            finally:
                self._mine.depth -= 1
            return
        slots = self._slots
        if not slots.acquire(timeout=self.wait):
            raise DecodersBusyError(f"all {self.limit} image decoders are busy; try again shortly")
        with self._lock:
            self._active += 1
        self._mine.depth = 1
        try:
            yield
        finally:
            self._mine.depth = 0
            slots.release()
            with self._lock:
                self._active -= 1
                last = self._active == 0
            if last:
                release_memory()


DECODES = DecodeSlots()
"""The process's decode cap; ``build_context`` sets it from the settings."""

__all__ = [
    "ALLOWED_LOADERS",
    "DECODES",
    "DecodeSlots",
    "pyvips",
    "release_memory",
    "restrict_loaders",
]
