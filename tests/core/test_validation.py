"""Key validation: the one gate in front of every store, URL and prefix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sartiq_storage.adapters.stores import LocalStore
from sartiq_storage.core.errors import InvalidKeyError
from sartiq_storage.core.validation import MAX_KEY_BYTES, validate_key, validate_prefix

TRAVERSAL_CORPUS = [
    "",
    "..",
    "../x",
    "a/../../x",
    "a/./b",
    "/etc/passwd",
    "//server/share/x",
    "a//b",
    "a/b/",
    "a\\..\\b",
    "C:\\Windows\\x",
    "C:/Windows/x",
    "\\\\unc\\share",
    "%2e%2e/x",
    "%2E%2E%2Fx",
    "a/%2fb",
    "a%00b",
    "%252e%252e/x",
    "a/\x00b",
    "a/b\x1f",
    "a/b\x7f",
    "\uff0e\uff0e/x",  # fullwidth dots
    "a\uff0fb",  # fullwidth solidus
    "a/\u2024\u2024/b",  # one-dot leaders
    "a\u2215b",  # division slash
    "a/b\u202egpj.exe",
    "a/b\u200b",
    "a/trailing.",
    "a/trailing ",
    "a/ leading",
    "x" * (MAX_KEY_BYTES + 1),
    "é" * 513,  # 1,026 bytes in UTF-8
    "a/\ud800",
]


@pytest.mark.parametrize("key", TRAVERSAL_CORPUS)
def test_traversal_corpus_is_refused(key: str) -> None:
    with pytest.raises(InvalidKeyError) as info:
        validate_key(key)
    assert info.value.reason


@pytest.mark.parametrize(
    "key",
    [
        "media/a1b2c3d4-e5f6-7890-abcd-ef1234567890/file.webp",
        "temp/abc123_1706000000_product-001.jpg",
        "images/subjects/subject_anna_def456_a1b2c3_cover.png",
        "compute/generations/task789/result_0.webp",
        "a" * MAX_KEY_BYTES,
        "media/photo~1/file (2).png",
    ],
)
def test_ordinary_keys_pass_unchanged(key: str) -> None:
    assert validate_key(key) == key


def test_nfc_normalisation() -> None:
    assert validate_key("caf\u0065\u0301") == "caf\u00e9"


def test_non_strings_are_refused() -> None:
    with pytest.raises(InvalidKeyError):
        validate_key(None)
    with pytest.raises(InvalidKeyError):
        validate_key(b"media/x")


def test_prefixes_allow_empty_and_trailing_slash() -> None:
    assert validate_prefix("") == ""
    assert validate_prefix("media/") == "media/"
    assert validate_prefix("media/ab") == "media/ab"
    with pytest.raises(InvalidKeyError):
        validate_prefix("../")
    with pytest.raises(InvalidKeyError):
        validate_prefix("/")


_PIECES = ["\x00", "\u202e", "\uff0e", "\uff0f", "\u0301", "é", "..", "%2e", "%2f", "C:"]
_alphabet = st.sampled_from([*"ab./\\%2eEfF0:~ _-", *_PIECES])
hostile_keys = st.lists(_alphabet, max_size=24).map("".join) | st.text(max_size=40)


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> LocalStore:
    return LocalStore(tmp_path_factory.mktemp("fuzz") / "store")


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=hostile_keys)
def test_fuzz_no_accepted_key_escapes_the_local_root(fuzz_store: LocalStore, key: str) -> None:
    try:
        accepted = validate_key(key)
    except InvalidKeyError:
        return
    path = fuzz_store.objects / f"{accepted}."
    real = Path(os.path.realpath(path))
    assert real.is_relative_to(Path(os.path.realpath(fuzz_store.objects)))
    assert real != Path(os.path.realpath(fuzz_store.objects))
    assert validate_key(accepted) == accepted  # idempotent


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=hostile_keys)
def test_fuzz_accepted_keys_round_trip_on_disk(fuzz_store: LocalStore, key: str) -> None:
    try:
        accepted = validate_key(key)
    except InvalidKeyError:
        return
    fuzz_store.put(accepted, b"payload")
    assert fuzz_store.get_bytes(accepted) == b"payload"
    assert any(info.key == accepted for info in fuzz_store.list(accepted))
    fuzz_store.delete(accepted)
    assert not fuzz_store.exists(accepted)
