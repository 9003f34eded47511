"""S3's multipart rules as pure functions: the part plan, part numbers, the completion check."""

from __future__ import annotations

import pytest

from sartiq_storage.core.errors import InvalidUploadError
from sartiq_storage.core.multipart import (
    MAX_PART_BYTES,
    MAX_PARTS,
    MIB,
    MIN_PART_BYTES,
    UploadedPart,
    check_completion,
    normalize_part_etag,
    parse_part_numbers,
    part_size_for,
    parts_needed,
)


def test_the_part_plan_stays_within_s3s_limits() -> None:
    assert part_size_for(12 * MIB, 5 * MIB) == 5 * MIB
    assert part_size_for(None, MIB) == MIN_PART_BYTES  # clamped up
    assert part_size_for(None, 10 * 1024**3) == MAX_PART_BYTES  # clamped down
    huge = 200 * 1024**3  # 200 GiB at 16 MiB would be 12,800 parts
    grown = part_size_for(huge, 16 * MIB)
    assert grown % MIB == 0
    assert parts_needed(huge, grown) <= MAX_PARTS
    assert parts_needed(0, 5 * MIB) == 1
    assert parts_needed(10 * MIB + 1, 5 * MIB) == 3


def test_part_numbers_from_a_query() -> None:
    assert parse_part_numbers("1, 2,10000") == [1, 2, 10_000]
    for bad in ("0", "10001", "x", "1,,2", "-1"):
        with pytest.raises(InvalidUploadError):
            parse_part_numbers(bad)
    with pytest.raises(InvalidUploadError, match="twice"):
        parse_part_numbers("3,3")
    with pytest.raises(InvalidUploadError, match="at most 2"):
        parse_part_numbers("1,2,3", limit=2)


def test_completion_is_checked_as_s3_checks_it() -> None:
    stored = [
        UploadedPart(1, "a" * 32, MIN_PART_BYTES),
        UploadedPart(2, "b" * 32, 10),
        UploadedPart(3, "c" * 32, 10),
    ]
    chosen = check_completion([(1, f'"{"A" * 32}"'), (2, "b" * 32)], stored)
    assert [p.part_number for p in chosen] == [1, 2]  # quotes and case do not matter
    assert normalize_part_etag(' "AbC" ') == "abc"
    with pytest.raises(InvalidUploadError, match="at least"):
        check_completion([(2, "b" * 32), (3, "c" * 32)], stored)  # a short part before the last
    with pytest.raises(InvalidUploadError, match="ascending"):
        check_completion([(2, "b" * 32), (1, "a" * 32)], stored)
    with pytest.raises(InvalidUploadError, match="not uploaded"):
        check_completion([(4, "d" * 32)], stored)
    with pytest.raises(InvalidUploadError, match="ETag"):
        check_completion([(1, "b" * 32)], stored)
    with pytest.raises(InvalidUploadError, match="at least one"):
        check_completion([], stored)
