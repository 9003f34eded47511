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
from collections.abc import Iterator
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


class GlibcMemory:
    """glibc set up to give a decoding process's memory back: a fixed mmap threshold, set by
    the process's first decode (:meth:`tune`), and ``malloc_trim(0)`` (:meth:`release`).

    glibc raises its mmap threshold after each big free (up to 32 MB), so the next uploads'
    bytes land on the heap and stay in the RSS once freed (57 MB after one 28 MB ingest);
    a fixed threshold keeps big buffers in their own mappings. Not at import: a process that
    never decodes (the S3 gateway) keeps the dynamic threshold, under which a stream's 1 MiB
    chunks reuse heap memory; with the fixed one each chunk was a fresh mapping (mmap, its
    pages faulted in, munmap), 40% of the gateway's CPU on a 64 MB GetObject. Both are no-ops
    where the C library is not glibc (musl, macOS).
    """

    def __init__(self) -> None:
        name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(name) if name else None
            trim, mallopt = (libc.malloc_trim, libc.mallopt) if libc else (None, None)
        except (OSError, AttributeError):
            trim = mallopt = None
        if trim is not None and mallopt is not None:
            mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            trim.argtypes = [ctypes.c_size_t]
            trim.restype = ctypes.c_int
        self._trim, self._mallopt = trim, mallopt
        self._lock = threading.Lock()
        self.tuned = self._mallopt is None
        """The threshold is fixed (or there is no glibc to tune)."""

    def tune(self) -> None:
        """Fix the mmap threshold at :data:`BIG_ALLOCATION` (once a process; idempotent)."""
        if self.tuned:
            return
        with self._lock:
            if not self.tuned and self._mallopt is not None:
                self._mallopt(_M_MMAP_THRESHOLD, BIG_ALLOCATION)
            self.tuned = True

    def release(self) -> None:
        """Return the freed heap to the system."""
        if self._trim is not None:
            self._trim(0)


GLIBC = GlibcMemory()
release_memory = GLIBC.release


class DecodeSlots:
    """One process-wide cap on concurrent image decodes (ingest probes and rewrites, ``?type=``
    conversions): each can hold hundreds of MB near the pixel limit.

    A caller waits up to ``wait`` seconds for a slot, then gets :class:`DecodersBusyError`
    (HTTP 503 with ``Retry-After``). When the last decode in flight ends and none waits for
    a slot, freed memory is returned to the system: a waiter about to decode would take the
    same memory again (under load ``malloc_trim`` ran between most decodes, 0.25 ms each).
    """

    def __init__(self, limit: int = 2, wait: float = 5.0) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._waiting = 0
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
        if not slots.acquire(blocking=False):  # none free: counted as waiting meanwhile
            with self._lock:
                self._waiting += 1
            try:
                if not slots.acquire(timeout=self.wait):
                    raise DecodersBusyError(
                        f"all {self.limit} image decoders are busy; try again shortly"
                    )
            finally:
                with self._lock:
                    self._waiting -= 1
        GLIBC.tune()
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
                last = self._active == 0 and self._waiting == 0
            if last:
                release_memory()


DECODES = DecodeSlots()
"""The process's decode cap; ``build_context`` sets it from the settings."""

__all__ = [
    "ALLOWED_LOADERS",
    "DECODES",
    "GLIBC",
    "DecodeSlots",
    "GlibcMemory",
    "pyvips",
    "release_memory",
    "restrict_loaders",
]
