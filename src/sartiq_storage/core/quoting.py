"""Percent-encoding of keys in URLs, without ``quote``'s per-character walk for a key it
would leave as it is (most keys: the presign and public-URL hot paths build one a request)."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

__all__ = ["key_quoter"]

_ALWAYS_SAFE = r"A-Za-z0-9_.~\-"
"""What ``quote`` never encodes, whatever ``safe`` says."""


def key_quoter(safe: str = "/") -> Callable[[str], str]:
    """``lambda key: quote(key, safe=safe)``, answering a key it would not change with the
    key itself."""
    unchanged = re.compile(f"[{_ALWAYS_SAFE}{re.escape(safe)}]*").fullmatch

    def quote_key(key: str) -> str:
        return key if unchanged(key) else quote(key, safe=safe)

    return quote_key
