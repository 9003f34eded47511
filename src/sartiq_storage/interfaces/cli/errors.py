"""The CLI's own failure: a refusal to report as one ``error:`` line and exit 1."""

from __future__ import annotations

from sartiq_storage.core.errors import StorageError


class CliError(StorageError):
    """A failure to report as one line and exit 1."""
