"""The record codec is pinned: ranges and staging files already on storage must read back,
and re-encoding them must give the same bytes (so range ids, and commit ids, stay put)."""

from __future__ import annotations

import zlib

from sartiq_storage.core.datasets.model import Entry
from sartiq_storage.core.datasets.ranges import (
    decode_range,
    encode_range,
    entry_to_record,
    record_to_entry,
)
from sartiq_storage.services.datasets.staging import decode, encode

SAMPLE = Entry(
    path="images/été.png",
    address="data/ab/abcdef",
    size=1234,
    checksum="0123456789abcdef0123456789abcdef",
    content_type="image/png",
    mtime=1_700_000_000,
    metadata={"z": "last", "a": "first"},
    external=True,
)

IDENTITY = "7b7419928229062ad044de9d589693e7f7f2760b191beb90eab1f9cbc929d8a3"
STAGED = (
    b'["images/\xc3\xa9t\xc3\xa9.png","' + IDENTITY.encode() + b'","data/ab/abcdef",1234,'
    b'"0123456789abcdef0123456789abcdef","image/png",1700000000,'
    b'{"a":"first","z":"last"},1]'
)
RANGE_ID = "81549875fb6cd704795b1c2494e33ac7c7d33379f3f4ba05dcb0889bfc035284"


def test_staging_encoding_is_pinned() -> None:
    record = entry_to_record(SAMPLE)
    assert record.identity == SAMPLE.identity == IDENTITY
    assert encode(record) == STAGED
    assert decode(encode(record)) == record
    assert record_to_entry(record) == SAMPLE


def test_range_encoding_is_pinned() -> None:
    record = entry_to_record(SAMPLE)
    range_id, data = encode_range([record])
    assert range_id == RANGE_ID
    assert zlib.decompress(data) == b'["sartiq-range-v1",[' + STAGED + b"]]"
    assert decode_range(data) == [record]
