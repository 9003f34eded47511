"""Range and metarange files: a pure codec, and the content-defined rule that cuts ranges.

A *range* is a sorted, contiguous slice of a commit's entries; a *metarange* lists a commit's
ranges. Both are canonical JSON compressed with zlib level 1, named by the SHA-256 of the
canonical (uncompressed) bytes, so identical content always gets the same id: that is what
lets commits copy untouched ranges by id and diffs skip identical ones. No pickle: files are
read back from shared storage.

A range is cut after any key whose 64-bit hash is ≡ 0 mod ``RAGGEDNESS`` (so boundaries depend
on keys, not positions, and an insert moves only nearby cuts), or at ``MAX_ENTRIES``.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sartiq_storage.core.datasets.model import Entry, entry_identity

RAGGEDNESS = 512
MAX_ENTRIES = 4_096
RANGE_FORMAT = "sartiq-range-v1"
METARANGE_FORMAT = "sartiq-metarange-v1"


class Record(NamedTuple):
    """One entry as ranges and staging store it: a JSON array in exactly this field order.

    A NamedTuple (not a dataclass) so the encoded bytes, and with them range and commit ids,
    stay those of the plain tuples written before (``tests/services/datasets/test_records.py``).
    """

    path: str
    identity: str
    """What merge and diff compare: equal identities are the same content and metadata."""
    address: str
    size: int
    checksum: str
    content_type: str
    mtime: int
    metadata: dict[str, str]
    external: int
    """1 for an imported object outside the namespace (never collected), else 0."""

    @classmethod
    def from_json(cls, row: Sequence[object]) -> Record:
        """A record from its decoded JSON array (types as written by :func:`entry_to_record`)."""
        return cls(*row)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class RangeInfo:
    """One metarange row: the range's id, its first and last key, and how many records."""

    id: str
    min_key: str
    max_key: str
    count: int


def is_boundary(key: str, raggedness: int = RAGGEDNESS) -> bool:
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % raggedness == 0


def entry_to_record(entry: Entry) -> Record:
    return Record(
        entry.path,
        entry.identity,
        entry.address,
        entry.size,
        entry.checksum,
        entry.content_type,
        entry.mtime,
        dict(sorted(entry.metadata.items())),
        1 if entry.external else 0,
    )


def record_to_entry(record: Record) -> Entry:
    return Entry(
        path=str(record.path),
        address=str(record.address),
        size=int(record.size),
        checksum=str(record.checksum),
        content_type=str(record.content_type),
        mtime=int(record.mtime),
        metadata={str(k): str(v) for k, v in record.metadata.items()},
        external=bool(record.external),
    )


def make_identity(size: int, checksum: str, content_type: str, metadata: Mapping[str, str]) -> str:
    return entry_identity(size, checksum, content_type, metadata)


def _canonical(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode(
        "utf-8", "surrogatepass"
    )


def encode_range(records: Sequence[Record]) -> tuple[str, bytes]:
    """(range id, compressed file bytes) for sorted records."""
    canonical = _canonical([RANGE_FORMAT, list(records)])
    return hashlib.sha256(canonical).hexdigest(), zlib.compress(canonical, 1)


def decode_range(data: bytes) -> list[Record]:
    payload = json.loads(zlib.decompress(data).decode("utf-8", "surrogatepass"))
    if not isinstance(payload, list) or len(payload) != 2 or payload[0] != RANGE_FORMAT:
        raise ValueError("not a range file")
    return [Record.from_json(r) for r in payload[1]]


def encode_metarange(ranges: Sequence[RangeInfo]) -> tuple[str, bytes]:
    rows = [[r.min_key, r.max_key, r.id, r.count] for r in ranges]
    canonical = _canonical([METARANGE_FORMAT, rows])
    return hashlib.sha256(canonical).hexdigest(), zlib.compress(canonical, 1)


def decode_metarange(data: bytes) -> list[RangeInfo]:
    payload = json.loads(zlib.decompress(data).decode("utf-8", "surrogatepass"))
    if not isinstance(payload, list) or len(payload) != 2 or payload[0] != METARANGE_FORMAT:
        raise ValueError("not a metarange file")
    return [RangeInfo(id=r[2], min_key=r[0], max_key=r[1], count=int(r[3])) for r in payload[1]]


EMPTY_METARANGE_ID, EMPTY_METARANGE_BYTES = encode_metarange([])
