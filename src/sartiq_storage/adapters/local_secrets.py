"""Secrets the embedded default generates once and keeps in its data folder.

So that ``sartiq-storage serve`` works with no configuration, yet signed URLs and the
development token survive a restart. Set the variables explicitly anywhere that matters.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from sartiq_storage.core.errors import ConfigurationError

_FILE = "secrets.json"


def load_or_create_secret(data_dir: Path, name: str) -> str:
    """Return the named secret from ``data_dir/secrets.json``, creating it (mode 0600)."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way, a read-only or missing mount: name the setting
        reason = "it is a file" if data_dir.is_file() else (exc.strerror or str(exc)).lower()
        raise ConfigurationError(
            f"STORAGE_DATA_DIR: cannot use {data_dir} as the data folder ({reason})"
        ) from None
    path = data_dir / _FILE
    try:
        stored = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        stored = {}
    if not isinstance(stored, dict):
        stored = {}
    value = stored.get(name)
    if isinstance(value, str) and value:
        return value
    stored[name] = secrets.token_urlsafe(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(stored, handle)
    os.replace(tmp, path)
    return str(stored[name])
