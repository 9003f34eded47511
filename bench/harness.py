"""Shared pieces of the benchmarks: result rows, alternating timed rounds, formatting.

Every measurement compares *ours* against a *baseline* doing the same work with plain library
calls, in the same process and the same run. The two sides alternate round by round (ours
first in even rounds, the baseline first in odd ones) after an untimed warm-up round, and each
side's median round is reported, so a noisy neighbour on a shared machine hurts both sides
alike instead of skewing the ratio.
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

KIB = 1024
MIB = 1024 * 1024
MB = 1_000_000
"""MB/s figures are decimal megabytes (10**6 bytes) per second."""

Round = Callable[[int], float]
"""One timed round: gets the round number (0 is the warm-up), returns the seconds it timed.

A round times only its own work with :func:`time.perf_counter`; setup and cleanup around it
(making keys, deleting what it wrote) stay outside the timed span.
"""


def ensure_repo_on_path() -> None:
    """Make ``tests.support`` importable however the runner was started."""
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)


@dataclass(frozen=True, slots=True)
class Result:
    """One row of a benchmark table; ``ratio`` is ours / baseline (above 1: ours is faster)."""

    benchmark: str
    case: str
    ours: float
    baseline: float
    unit: str
    notes: str = ""
    ratio: float = field(init=False)

    def __post_init__(self) -> None:
        ratio = self.ours / self.baseline if self.baseline > 0 else math.nan
        object.__setattr__(self, "ratio", ratio)


def run_child(module: str, *args: str) -> dict[str, object]:
    """Run ``python -m module args…`` in a fresh process (a clean peak RSS per case) and
    return the JSON object its last stdout line prints."""
    out = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    if out.returncode != 0:
        raise RuntimeError(f"{module} {args[0] if args else ''} failed: {out.stderr[-2000:]}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _status_bytes(pid: int | str, field: str) -> int | None:
    """A byte figure (``VmRSS``, ``VmHWM``…) of ``/proc/{pid}/status``; None if absent."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


def proc_status(field: str) -> int:
    """A byte figure of this process from ``/proc/self/status`` (``VmRSS``, ``VmHWM``…)."""
    value = _status_bytes("self", field)
    if value is None:
        raise RuntimeError(f"no {field} in /proc/self/status")
    return value


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants, from ``/proc`` (granian forks its workers, serve
    spawns the S3 gateway): the processes a server's cost is summed over."""
    tree: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
            children = [int(c) for task in tasks for c in (task / "children").read_text().split()]
        except OSError:  # gone meanwhile
            continue
        tree.append(current)
        pending.extend(children)
    return tree


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU these processes have used so far (every thread, ended ones
    included); one gone meanwhile counts nothing. Unlike wall time, a busy neighbour does
    not inflate it."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident bytes of one process (0 once it is gone)."""
    try:
        return _status_bytes(pid, "VmRSS") or 0
    except OSError:
        return 0


def tree_cpu(pid: int) -> float:
    """:func:`cpu_seconds` of ``pid``'s :func:`process_tree`."""
    return cpu_seconds(process_tree(pid))


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid``'s :func:`process_tree`."""
    return sum(rss_bytes(p) for p in process_tree(pid))


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(
    ours: Round,
    baseline: Round,
    *,
    work: float,
    rounds: int = 3,
    warmup: bool = True,
) -> tuple[float, float]:
    """Alternate the two sides for ``rounds`` rounds; return their median rates.

    ``work`` is what one round does (operations, megabytes, keys); a rate is work / seconds.
    """
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    if warmup:
        for side in (ours, baseline):
            gc.collect()
            side(0)
    ours_times: list[float] = []
    base_times: list[float] = []
    for number in range(1, rounds + 1):
        order = [(ours, ours_times), (baseline, base_times)]
        if number % 2 == 0:
            order.reverse()
        for side, times in order:
            gc.collect()
            times.append(side(number))
    return work / statistics.median(ours_times), work / statistics.median(base_times)


def measure(
    benchmark: str,
    case: str,
    ours: Round,
    baseline: Round,
    *,
    work: float,
    unit: str,
    notes: str = "",
    rounds: int = 3,
    warmup: bool = True,
) -> Result:
    """:func:`compare` the two sides and make the result row."""
    ours_rate, base_rate = compare(ours, baseline, work=work, rounds=rounds, warmup=warmup)
    return Result(benchmark, case, ours_rate, base_rate, unit, notes)


# -- formatting ------------------------------------------------------------------------------


def format_rate(value: float) -> str:
    """Three significant figures or so, with thousands separators for big numbers."""
    if math.isnan(value):
        return "n/a"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_ratio(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if value >= 0.1:
        return f"{value:.2f}"
    return f"{value:.2g}"


def filesystem_of(path: str | os.PathLike[str]) -> str:
    """The file-system type holding ``path`` (Linux ``/proc/mounts``), or ``unknown``."""
    target = os.path.realpath(path)
    best, kind = "", "unknown"
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mount = parts[1].replace("\\040", " ")
                inside = target == mount or target.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):
                    best, kind = mount, parts[2]
    except OSError:
        pass
    return kind


def machine_info() -> dict[str, str]:
    """What the figures were measured on."""
    return {
        "CPUs": str(os.cpu_count()),
        "Platform": platform.platform(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "Date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
