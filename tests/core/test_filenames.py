"""File names, extensions and content types (``sartiq_storage.core.filenames``)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sartiq_storage.core.filenames import (
    CONTENT_TYPE_FOR_EXTENSION,
    EXTENSION_FOR_CONTENT_TYPE,
    MEDIA_EXTENSIONS,
    MIN_FILENAME_BYTES,
    content_type_for_extension,
    extension_for_content_type,
    normalize_extension,
    safe_filename,
)
from sartiq_storage.core.validation import validate_key

SAFE = re.compile(r"[A-Za-z0-9._-]+")
CONTENT_TYPES = st.none() | st.sampled_from(
    ["image/png", "IMAGE/JPEG; charset=binary", "video/quicktime", "application/pdf", ""]
)
# Text biased towards the tricky parts: separators, dots, bidi, lookalikes, escapes.
NAMEISH = st.lists(
    st.sampled_from(
        [
            "a",
            "Z9",
            ".",
            "..",
            "/",
            "\\",
            " ",
            "_",
            "-",
            "%2e",
            "\u202e",
            "\u200b",
            "\x00",
            "\n",
            "．",
            "／",
            "é",
            "e\u0301",
            "Фото",
            "CON",
            "lpt1",
            "jpg",
            "JPEG",
            "exe",
            "tar",
            "ß",
            "ﬁ",
        ]
    ),
    max_size=20,
).map("".join)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("jpg", "jpg"),
        (".jpg", "jpg"),
        ("JPG", "jpg"),
        ("jpeg", "jpg"),
        (".JPEG", "jpg"),
        ("jpe", "jpg"),
        ("jfif", "jpg"),
        ("tif", "tiff"),
        ("TIFF", "tiff"),
        ("webp", "webp"),
        ("M4V", "m4v"),
        ("pdf", "pdf"),
        ("abcdefghij", "abcdefghij"),
    ],
)
def test_normalize_extension(raw: str, expected: str) -> None:
    assert normalize_extension(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", ".", "..jpg", "jp g", "tar.gz", "j_g", "abcdefghijk", "ｊｐｇ", "\u212a", "jpg\n"],
)
def test_normalize_extension_refuses(raw: str) -> None:
    with pytest.raises(ValueError, match="invalid extension"):
        normalize_extension(raw)


@given(st.text(max_size=12))
def test_normalize_extension_is_idempotent_and_strict(raw: str) -> None:
    try:
        ext = normalize_extension(raw)
    except ValueError:
        return
    assert re.fullmatch(r"[a-z0-9]{1,10}", ext)
    assert normalize_extension(ext) == ext


def test_content_type_tables_agree() -> None:
    assert set(CONTENT_TYPE_FOR_EXTENSION) == MEDIA_EXTENSIONS
    for ext, content_type in CONTENT_TYPE_FOR_EXTENSION.items():
        assert EXTENSION_FOR_CONTENT_TYPE[content_type] == ext
    assert set(EXTENSION_FOR_CONTENT_TYPE.values()) <= MEDIA_EXTENSIONS


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("image/jpeg", "jpg"),
        ("IMAGE/JPEG; charset=binary", "jpg"),
        ("image/jpg", "jpg"),
        ("image/svg+xml", "svg"),
        ("video/quicktime", "mov"),
        ("video/x-m4v", "m4v"),
        (" image/png ", "png"),
        ("application/pdf", None),
        ("", None),
    ],
)
def test_extension_for_content_type(content_type: str, expected: str | None) -> None:
    assert extension_for_content_type(content_type) == expected


@pytest.mark.parametrize(
    ("ext", "expected"),
    [
        ("jpg", "image/jpeg"),
        (".JPEG", "image/jpeg"),
        ("tif", "image/tiff"),
        ("mov", "video/quicktime"),
        ("pdf", "application/octet-stream"),
        ("", "application/octet-stream"),
        ("no good", "application/octet-stream"),
    ],
)
def test_content_type_for_extension(ext: str, expected: str) -> None:
    assert content_type_for_extension(ext) == expected


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("product-001.jpg", None, "product-001.jpg"),
        ("../../etc/passwd", None, "passwd"),
        ("C:\\Users\\x\\photo.JPEG", None, "photo.jpg"),
        ("résumé photo.png", None, "resume-photo.png"),
        ("Straße.webp", None, "Strasse.webp"),
        ("Фото.jpg", None, "file.jpg"),
        ("gpj.exe\u202e.jpg", None, "gpj-exe.jpg"),
        ("photo\u202egpj.exe", None, "photo-gpj-exe"),
        ("photo\u202egpj.exe", "image/png", "photo-gpj.png"),
        ("CON.jpg", None, "file-CON.jpg"),
        ("lpt9", None, "file-lpt9"),
        ("CONSOLE.jpg", None, "CONSOLE.jpg"),
        ("photo.exe", "image/png", "photo.png"),
        ("photo.JPEG", "image/jpeg", "photo.jpg"),
        ("photo.JPEG", None, "photo.jpg"),
        ("a.exe", None, "a-exe"),
        ("invoice.pdf.jpg", None, "invoice-pdf.jpg"),
        ("my.holiday photo", "image/png", "my-holiday-photo.png"),
        ("a..b", None, "a-b"),
        ("%2e%2e%2fsecret.png", None, "2e-2e-2fsecret.png"),
        ("--__ spaced out __--.png", None, "spaced-out.png"),
        (".jpg", None, "file.jpg"),
        (".bashrc", None, "bashrc"),
        ("", None, "file"),
        ("...", None, "file"),
        ("dir/", None, "file"),
        ("\x00\x01\n", "image/gif", "file.gif"),
        ("photo.png", "application/pdf", "photo.png"),
        ("photo.exe", "application/pdf", "photo-exe"),
    ],
)
def test_safe_filename_examples(name: str, content_type: str | None, expected: str) -> None:
    assert safe_filename(name, content_type=content_type) == expected


def test_safe_filename_bounds_length_keeping_the_extension() -> None:
    name = "x" * 300 + ".png"
    assert safe_filename(name) == "x" * 96 + ".png"
    assert safe_filename(name, max_bytes=20) == "x" * 16 + ".png"
    # Trimming may leave separators at the end: they are stripped, never kept.
    assert safe_filename("a" * 14 + "_-_-b.png", max_bytes=20) == "a" * 14 + ".png"


def test_safe_filename_trimming_cannot_produce_a_reserved_stem() -> None:
    assert safe_filename("CON_-_-_-_-_-_-_-_-_-rest.png", max_bytes=16) == "file-CON.png"


def test_safe_filename_refuses_a_tiny_budget() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        safe_filename("a.png", max_bytes=MIN_FILENAME_BYTES - 1)


@given(
    st.one_of(st.text(max_size=300), NAMEISH),
    CONTENT_TYPES,
    st.integers(min_value=MIN_FILENAME_BYTES, max_value=300),
)
def test_safe_filename_is_always_one_safe_segment(
    name: str, content_type: str | None, max_bytes: int
) -> None:
    out = safe_filename(name, content_type=content_type, max_bytes=max_bytes)
    assert out
    assert SAFE.fullmatch(out)  # so no '/', '\\', '%', controls, bidi or other non-ASCII
    assert validate_key(out) == out
    assert len(out.encode("utf-8")) <= max_bytes
    assert out.count(".") <= 1
    assert out.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL"}
    type_ext = extension_for_content_type(content_type) if content_type else None
    if type_ext is not None:
        assert out.endswith(f".{type_ext}")
    elif "." in out:
        assert out.rsplit(".", 1)[1] in MEDIA_EXTENSIONS
    # A safe name is a fixed point.
    assert safe_filename(out, content_type=content_type, max_bytes=max_bytes) == out
