"""Multipart uploads as S3 defines them: the limits, the part plan and the part-list checks.

Every backend follows S3's rules (R2 and MinIO do too), so a client written for one works on
all: parts are numbered 1 to 10,000, every part but the last is at least 5 MiB, none is over
5 GiB, and completing names each part by its number and the ETag its upload answered.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from sartiq_storage.core.errors import InvalidUploadError

MIB: Final = 1024 * 1024
MIN_PART_BYTES: Final = 5 * MIB
"""S3's smallest part (every part but the last)."""
MAX_PART_BYTES: Final = 5 * 1024 * MIB
"""S3's largest part."""
MAX_PARTS: Final = 10_000
"""S3's most parts in one upload."""
DEFAULT_PART_BYTES: Final = 16 * MIB
"""The part size offered when the settings choose none: few requests, little to redo."""
DEFAULT_MAX_VIDEO_BYTES: Final = 5 * 1024**3
"""The default cap on one multipart upload of a video (5 GiB)."""
MULTIPART_UPLOAD_SECONDS: Final = 24 * 3600
"""How long a multipart upload may take: the bucket's lifecycle aborts incomplete uploads
after a day (``abort_incomplete_multipart_days``), and the embedded sweep does the same."""


@dataclass(frozen=True, slots=True)
class UploadedPart:
    """One stored part: its number, the ETag its upload answered, and its size."""

    part_number: int
    etag: str
    size: int


def part_size_for(size: int | None, preferred: int = DEFAULT_PART_BYTES) -> int:
    """The part size for ``size`` bytes: ``preferred`` (clamped to S3's range), grown to a
    whole MiB when ``preferred`` would need more than 10,000 parts."""
    part = min(max(preferred, MIN_PART_BYTES), MAX_PART_BYTES)
    if size is not None and math.ceil(size / part) > MAX_PARTS:
        part = math.ceil(size / MAX_PARTS / MIB) * MIB
    return part


def parts_needed(size: int, part_size: int) -> int:
    """How many parts ``size`` bytes take at ``part_size`` (one for an empty file)."""
    return max(1, math.ceil(size / part_size))


def check_part_number(part_number: int) -> int:
    if not 1 <= part_number <= MAX_PARTS:
        raise InvalidUploadError(f"part number {part_number} is out of range (1 to {MAX_PARTS})")
    return part_number


def whole_number(text: str, max_digits: int = 19) -> int | None:
    """``text`` as a number of ASCII digits, at most ``max_digits`` of them; else None.

    ``str.isdigit`` alone lets ``²`` through (then ``int`` refuses it), and ``int`` refuses
    strings of over 4,300 digits: both were a 500 where a 400 was due (part numbers, markers
    and page sizes from a query or a body)."""
    if text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None


def parse_part_numbers(text: str, limit: int = MAX_PARTS) -> list[int]:
    """Companion's ``partNumbers=1,2,3``: each in range, none twice, at most ``limit``."""
    numbers: list[int] = []
    for raw in text.split(","):
        raw = raw.strip()
        number = whole_number(raw, 6)
        if number is None:
            raise InvalidUploadError(
                f"part number {raw!r} is not a whole number (1 to {MAX_PARTS})"
            )
        numbers.append(check_part_number(number))
    if len(set(numbers)) != len(numbers):
        raise InvalidUploadError("a part number is listed twice")
    if len(numbers) > limit:
        raise InvalidUploadError(f"at most {limit} part numbers a request")
    return numbers


def normalize_part_etag(etag: str) -> str:
    """An ETag as compared: without the quotes S3 puts around it, lower case."""
    etag = etag.strip()
    if len(etag) >= 2 and etag[0] == etag[-1] == '"':
        etag = etag[1:-1]
    return etag.lower()


def check_completion(
    claimed: Sequence[tuple[int, str]], stored: Iterable[UploadedPart]
) -> list[UploadedPart]:
    """The stored parts the client's list names, checked as S3 checks them.

    Numbers ascending and unique, each part uploaded with that ETag, every part but the last
    at least :data:`MIN_PART_BYTES`. Raises :class:`InvalidUploadError` with the first
    problem, so the answer names it.
    """
    if not claimed:
        raise InvalidUploadError("a multipart upload is completed with at least one part")
    by_number = {part.part_number: part for part in stored}
    chosen: list[UploadedPart] = []
    previous = 0
    for number, etag in claimed:
        check_part_number(number)
        if number <= previous:
            raise InvalidUploadError("parts must be listed in ascending order, each once")
        previous = number
        part = by_number.get(number)
        if part is None:
            raise InvalidUploadError(f"part {number} was not uploaded")
        if normalize_part_etag(etag) != normalize_part_etag(part.etag):
            raise InvalidUploadError(f"part {number}: the ETag is not the uploaded part's")
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size < MIN_PART_BYTES:
            raise InvalidUploadError(
                f"part {part.part_number} is {part.size} bytes; every part but the last "
                f"must be at least {MIN_PART_BYTES} bytes"
            )
    return chosen
