"""What every walker shares: the kept-blocks list and the alignment slack."""

from __future__ import annotations

Parts = list[bytes | memoryview]
"""The blocks a walker keeps: views into the upload, joined only when stripping."""

SLACK = 3
"""Bytes between two referenced blocks that alignment explains (TIFF words are 2 bytes)."""
