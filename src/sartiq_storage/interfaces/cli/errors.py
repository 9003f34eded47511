"""The CLI's own failure: a refusal to report as one ``error:`` line and exit 1."""

from __future__ import annotations


class CliError(Exception):
    """A failure to report as one line and exit 1."""
