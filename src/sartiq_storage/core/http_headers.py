"""The HTTP headers every route and store of this service spells the same way.

One ``Range`` parser, one HTTP-date formatter and one list of exposed headers, shared by the
routes that serve stored bytes (media, compute, the embedded store, the lakeFS API), the
``/files`` fast path and the bucket CORS the S3 adapter writes. Pure: no I/O, no framework.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Final

from sartiq_storage.core.errors import StorageError

CORS_EXPOSE_HEADERS: Final = ("ETag", "Content-Length", "Content-Range")
"""What a browser may read from our answers, on the bucket (CORS rules) and on this service,
so browser code behaves the same on both: ``ETag`` for multipart part ETags, the rest for
ranged reads."""

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiableError(StorageError):
    """A ``Range`` that asks for no byte of the object (RFC 9110: 416)."""

    status = 416

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def parse_byte_range(header: str, size: int) -> tuple[int, int] | None:
    """A single ``bytes=a-b`` range as ``[start, end)`` of an object of ``size`` bytes.

    None when the header is not one such range (several ranges, another unit, ``bytes=-``):
    each route decides what that means. :class:`RangeNotSatisfiableError` when it asks for
    nothing: an empty suffix (``bytes=-0``), or a start at or past the end.
    """
    match = _RANGE.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiableError("empty suffix range")
        return max(0, size - length), size
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if start >= size or end <= start:
        raise RangeNotSatisfiableError("range not satisfiable")
    return start, end


def content_range(start: int, end: int, size: int) -> str:
    """``Content-Range`` of a 206 serving ``[start, end)``."""
    return f"bytes {start}-{end - 1}/{size}"


def unsatisfied_range(size: int) -> dict[str, str]:
    """The header a 416 carries (``bytes */size``)."""
    return {"Content-Range": f"bytes */{size}"}


def http_date(when: datetime | float) -> str:
    """An IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``) for a datetime (naive read as UTC)
    or a POSIX timestamp; whole seconds, English names whatever the locale."""
    if isinstance(when, datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        when = when.timestamp()
    return formatdate(when, usegmt=True)
