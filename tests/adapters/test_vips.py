"""glibc's memory set-up: fixed by a process's first decode, not by importing pyvips, so a
process that only streams (the S3 gateway imports it through its context) reuses its heap.

Each case runs in a fresh interpreter (the setting is process-wide and cannot be undone)
and counts the page faults of building and dropping a 2 MiB buffer twenty times: reused heap
pages fault nothing, a fresh mapping each time faults in every page (512 of them)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the mmap threshold is glibc's",
)

PROBE = """
import resource, sys
from sartiq_storage.adapters.vips import DECODES
from sartiq_storage.services.context import build_context  # what the gateway imports

if sys.argv[1] == "decode":
    with DECODES.held():
        pass

def buffers(n):
    for _ in range(n):
        data = b"x" * (2 << 20)
        del data

buffers(3)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
buffers(20)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def _faults_per_buffer(mode: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=120, check=True
    )
    return float(done.stdout.strip())


def test_importing_pyvips_keeps_the_heap_reused_for_big_buffers() -> None:
    assert _faults_per_buffer("import") < 64


def test_a_decode_gives_big_buffers_their_own_mappings() -> None:
    assert _faults_per_buffer("decode") > 256
