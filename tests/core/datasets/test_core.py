"""The pure parts: names, ref expressions, the merge table, the range codec."""

from __future__ import annotations

import pytest

from sartiq_storage.core.datasets.errors import InvalidNameError, InvalidRefError
from sartiq_storage.core.datasets.merge import merge_outcome, resolve_outcome
from sartiq_storage.core.datasets.model import Entry
from sartiq_storage.core.datasets.names import (
    validate_branch_name,
    validate_path,
    validate_repository_name,
    validate_tag_name,
)
from sartiq_storage.core.datasets.ranges import (
    RAGGEDNESS,
    RangeInfo,
    decode_metarange,
    decode_range,
    encode_metarange,
    encode_range,
    entry_to_record,
    is_boundary,
    record_to_entry,
)
from sartiq_storage.core.datasets.refs import Modifier, parse_ref


@pytest.mark.parametrize("name", ["abc", "my-repo-1", "0ab", "a" * 63])
def test_valid_repository_names(name: str) -> None:
    assert validate_repository_name(name) == name


@pytest.mark.parametrize("name", ["ab", "-abc", "Abc", "a_b_c", "a" * 64, "a.bc"])
def test_invalid_repository_names(name: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_repository_name(name)


@pytest.mark.parametrize("name", ["main", "feature-1", "_x", "a_b"])
def test_valid_branch_names(name: str) -> None:
    assert validate_branch_name(name) == name


@pytest.mark.parametrize("name", ["", "-x", "a/b", "a.b", "é", "a b"])
def test_invalid_branch_names(name: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_branch_name(name)


@pytest.mark.parametrize("name", ["v1.0", "eval~1", "release-2024"])
def test_valid_tag_names(name: str) -> None:
    assert validate_tag_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "a..b", "a/b", "a@{b", "a^b", "a:b", "a?", "a*", "a[", "a\\b", "x.", "x.lock", "\x01"],
)
def test_invalid_tag_names(name: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_tag_name(name)


def test_paths() -> None:
    assert validate_path("any thing/ü/../x") == "any thing/ü/../x"
    for bad in ("", "a\x00b"):
        with pytest.raises(InvalidNameError):
            validate_path(bad)


def test_parse_refs() -> None:
    assert parse_ref("main").plain
    ref = parse_ref("main~2^2@")
    assert ref.base == "main"
    assert ref.modifiers == (Modifier("~", 2), Modifier("^", 2))
    assert ref.committed_only
    assert parse_ref("abc~").modifiers == (Modifier("~", 1),)
    assert parse_ref("abc^^").modifiers == (Modifier("^", 1), Modifier("^", 1))
    for bad in ("", "~1", "main~x", "@"):
        with pytest.raises(InvalidRefError):
            parse_ref(bad)


A, B, C = "a", "b", "c"


@pytest.mark.parametrize(
    ("base", "source", "dest", "expected"),
    [
        (A, A, A, "dest"),
        (A, B, B, "dest"),
        (A, B, C, "conflict"),
        (A, A, B, "dest"),
        (A, B, A, "source"),
        (A, None, None, "dest"),
        (A, B, None, "conflict"),
        (A, None, B, "conflict"),
        (A, A, None, "dest"),
        (A, None, A, "source"),
        (None, B, C, "conflict"),
        (None, B, B, "dest"),
        (None, B, None, "source"),
    ],
)
def test_merge_table(base: str | None, source: str | None, dest: str | None, expected: str) -> None:
    assert merge_outcome(base, source, dest) == expected


def test_strategies_and_resolutions() -> None:
    assert resolve_outcome("conflict", "source-wins") == "source"
    assert resolve_outcome("conflict", "dest-wins") == "dest"
    assert resolve_outcome("conflict", "dest-wins", "source") == "source"
    assert resolve_outcome("conflict", None) == "conflict"
    assert resolve_outcome("source", "dest-wins") == "source"


def test_range_codec_round_trip_and_ids() -> None:
    entries = [
        Entry(f"p/{i}", f"data/x/{i}", i, "0" * 32, "image/png", 1, {"k": "v", "a": "b"})
        for i in range(10)
    ]
    records = [entry_to_record(e) for e in entries]
    range_id, data = encode_range(records)
    assert encode_range(records)[0] == range_id
    decoded = decode_range(data)
    assert [record_to_entry(r) for r in decoded] == entries
    assert decoded[0][1] == entries[0].identity
    info = RangeInfo(range_id, "p/0", "p/9", 10)
    mid, mdata = encode_metarange([info])
    assert decode_metarange(mdata) == [info]
    assert mid != encode_metarange([])[0]


def test_cut_rule_is_content_defined() -> None:
    keys = [f"images/{i:06d}.jpg" for i in range(50_000)]
    cuts = [k for k in keys if is_boundary(k)]
    expected = len(keys) / RAGGEDNESS
    assert expected / 2 <= len(cuts) <= expected * 2  # about one in RAGGEDNESS
    assert cuts == [k for k in keys if is_boundary(k)]
