"""Field rules shared by every key kind: what each field may hold so that a key stays exact."""

from __future__ import annotations

import re

from sartiq_storage.core.errors import InvalidKeyError
from sartiq_storage.core.validation import validate_key

# Ids, uuids and image types: no '_' (the field separator), '/' or '.' (the extension separator).
_TOKEN = re.compile(r"[^_/.]+")
# Extensions stored in keys: kept literally (legacy data may say JPG) so parsing round-trips.
_EXT = re.compile(r"[A-Za-z0-9]{1,10}")
_FILE_ID = re.compile(r"[0-9A-Za-z-]+")
_UINT_TEXT = re.compile(r"0|[1-9][0-9]*")
_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_MEDIA_FILE = re.compile(r"file\.([A-Za-z0-9]{1,10})")
_TEMP_UPLOAD = re.compile(r"([0-9A-Za-z-]+)_(0|[1-9][0-9]*)_(.+)", re.DOTALL)
_COMPUTE_RESULT = re.compile(r"result_(0|[1-9][0-9]*)\.webp")


def _token(value: object, name: str) -> None:
    if not (isinstance(value, str) and _TOKEN.fullmatch(value)):
        raise InvalidKeyError(value, f"{name} must be non-empty without '_', '/' or '.'")


def _free(value: object, name: str) -> None:
    if not (isinstance(value, str) and value and "/" not in value):
        raise InvalidKeyError(value, f"{name} must be non-empty without '/'")


def _extension(value: object) -> None:
    if not (isinstance(value, str) and _EXT.fullmatch(value)):
        raise InvalidKeyError(value, "extension must be 1-10 ASCII letters or digits, no dot")


def _uint(value: object, name: str) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        raise InvalidKeyError(value, f"{name} must be an int >= 0")


def _whole(key: str) -> None:
    """The built key must be valid and already NFC, or parsing it would give other fields."""
    if validate_key(key) != key:
        raise InvalidKeyError(key, "not in Unicode NFC form")


def _extension_of(filename: str) -> str | None:
    stem, dot, ext = filename.rpartition(".")
    return ext if dot and stem and _EXT.fullmatch(ext) else None
