"""The installed ``sartiq-storage`` entry point in a child process, as an operator runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

_BESIDE_PYTHON = Path(sys.executable).with_name("sartiq-storage")
ENTRY_POINT = str(_BESIDE_PYTHON) if _BESIDE_PYTHON.exists() else shutil.which("sartiq-storage")
"""The console script pip installed (``[project.scripts]``), not ``python -m``: a command
documented but not wired into it, or a broken entry point, fails here as it would for a user."""


def sartiq(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``sartiq-storage ARGS`` with pipes for stdin/stdout/stderr (not a terminal) and
    the test's environment plus ``env``; the result keeps the exit code and both outputs."""
    if ENTRY_POINT is None:  # pragma: no cover - the package is always installed for tests
        raise RuntimeError("the sartiq-storage entry point is not installed (pip install -e .)")
    return subprocess.run(
        [ENTRY_POINT, *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``sartiq-storage ARGS`` with a wide terminal (``COLUMNS=200``) and a 60 s timeout."""
    return subprocess.run(
        [str(ENTRY_POINT), *args],  # as an operator runs it
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        cwd=cwd,
        timeout=60,
        check=False,
    )
