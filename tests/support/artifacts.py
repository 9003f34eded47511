"""Where tests leave files for people to look at (gitignored)."""

from __future__ import annotations

import os
from pathlib import Path

CONSOLE_SCREENSHOTS = Path(
    os.environ.get("SARTIQ_CONSOLE_ARTIFACTS", Path(__file__).parents[2] / "artifacts" / "console")
)
"""Screenshots of every step of the console's browser tests."""
