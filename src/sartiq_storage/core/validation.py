"""Object-key validation that every entry point uses.

A key is a flat string on S3, but it becomes a path on the local-disk backend, a URL path
on the CDN and a prefix in lifecycle rules, so one strict gate keeps all of them safe.

Decisions (see ``docs/keys.md``):

* Keys are NFC-normalised, as R2 does server-side, so every backend stores the same name.
* Percent-escapes are refused rather than decoded: callers decode exactly once, before us.
* Anything NFKC would turn into ``.``, ``/`` or ``\\`` (fullwidth forms and friends) is refused
  when it changes the meaning of a segment.
* Segments may not be empty, ``.``, ``..``, or end in a dot or a space (Windows strips them).
"""

from __future__ import annotations

import re
import unicodedata

from sartiq_storage.core.errors import InvalidKeyError

MAX_KEY_BYTES = 1024
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_DRIVE = re.compile(r"^[A-Za-z]:")
# Bidi controls and zero-width characters that make a name read differently than it is.
_INVISIBLE = frozenset(
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2066\u2067\u2068\u2069\ufeff"
)
# Slashes that NFKC leaves alone but that read as path separators.
_SEPARATOR_LOOKALIKES = frozenset("\u2044\u2215\u2216\u29f5\u29f8\u29f9\u3033\u30fb")


_PLAIN_ASCII = re.compile(r"[\x20-\x7e]*")


def _check_characters(key: str) -> None:
    if _PLAIN_ASCII.fullmatch(key):
        # The common case, checked at C speed: printable ASCII has no control, bidi,
        # surrogate or look-alike characters; only the two ASCII checks below remain.
        pass
    else:
        _check_unicode(key)
    if "\\" in key:
        raise InvalidKeyError(key, "backslash")
    if "%" in key and _PERCENT_ESCAPE.search(key):
        raise InvalidKeyError(key, "percent-encoded sequence (decode once before validating)")


_LOOKALIKE_SEARCH = re.compile("[" + "".join(sorted(_SEPARATOR_LOOKALIKES)) + "]")
# NFC merges at most a few code points into one (a letter and its marks), so a string this
# long cannot come back under the byte limit: refused before any per-character work.
_MAX_INPUT_CHARS = 8 * MAX_KEY_BYTES


def _check_unicode(key: str) -> None:
    if key.isprintable():
        # C speed again: printable text has no control (Cc), format (Cf: every bidi and
        # zero-width character above), surrogate, private-use or unassigned code point
        # (non-characters are unassigned), so only the separator look-alikes remain.
        found = _LOOKALIKE_SEARCH.search(key)
        if found:
            ch = found.group()
            raise InvalidKeyError(key, f"look-alike of a path separator U+{ord(ch):04X}")
        return
    for ch in dict.fromkeys(key):  # each distinct character once, in order of appearance
        cat = unicodedata.category(ch)
        if cat == "Cc":
            raise InvalidKeyError(key, f"control character U+{ord(ch):04X}")
        if cat == "Cs":
            raise InvalidKeyError(key, "lone surrogate (not valid UTF-8)")
        if ch in _INVISIBLE:
            raise InvalidKeyError(key, f"invisible or bidi control character U+{ord(ch):04X}")
        if ch in _SEPARATOR_LOOKALIKES:
            raise InvalidKeyError(key, f"look-alike of a path separator U+{ord(ch):04X}")
        if cat == "Cn" or (0xFDD0 <= ord(ch) <= 0xFDEF) or (ord(ch) & 0xFFFE) == 0xFFFE:
            raise InvalidKeyError(key, f"unassigned or non-character U+{ord(ch):04X}")


def _check_segments(key: str, segments: list[str], *, allow_trailing_slash: bool) -> None:
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "":
            if last and allow_trailing_slash and index > 0:
                continue
            raise InvalidKeyError(key, "empty path segment ('//' or a trailing '/')")
        if segment in (".", ".."):
            raise InvalidKeyError(key, f"'{segment}' path segment")
        if segment[-1] in ". ":
            raise InvalidKeyError(key, "path segment ends in a dot or a space")
        if segment[0] == " ":
            raise InvalidKeyError(key, "path segment starts with a space")


def _check_lookalikes(key: str) -> None:
    if key.isascii():
        return  # NFKC changes nothing in ASCII
    folded = unicodedata.normalize("NFKC", key)
    if folded == key:
        return
    if folded.count("/") != key.count("/") or "\\" in folded:
        raise InvalidKeyError(key, "Unicode look-alike of a path separator")
    for segment in folded.split("/"):
        # The ASCII rules once more on the folded text: '．．．' or '\u3000' alone is as bad
        # as '...' or ' ' (a segment made only of look-alike dots and spaces included).
        if segment in (".", "..") or (segment and segment[-1] in ". "):
            raise InvalidKeyError(key, "Unicode look-alike of a dot segment or trailing dot/space")
    if _PERCENT_ESCAPE.search(folded) or _DRIVE.match(folded):
        raise InvalidKeyError(key, "Unicode look-alike of an escape or drive letter")


def _validate(key: object, *, allow_trailing_slash: bool, allow_empty: bool) -> str:
    if not isinstance(key, str):
        raise InvalidKeyError(key, "not a string")
    if key == "":
        if allow_empty:
            return key
        raise InvalidKeyError(key, "empty key")
    if len(key) > _MAX_INPUT_CHARS:
        raise InvalidKeyError(key, f"longer than {MAX_KEY_BYTES} bytes in UTF-8")
    _check_characters(key)
    if not key.isascii():
        key = unicodedata.normalize("NFC", key)
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidKeyError(key, f"longer than {MAX_KEY_BYTES} bytes in UTF-8")
    if key.startswith("/"):
        raise InvalidKeyError(key, "absolute path (leading '/')")
    if _DRIVE.match(key):
        raise InvalidKeyError(key, "drive letter")
    _check_segments(key, key.split("/"), allow_trailing_slash=allow_trailing_slash)
    _check_lookalikes(key)
    return key


def validate_key(key: object) -> str:
    """Return the NFC form of an object key, or raise :class:`InvalidKeyError` saying why."""
    return _validate(key, allow_trailing_slash=False, allow_empty=False)


def validate_prefix(prefix: object) -> str:
    """Like :func:`validate_key` for listing prefixes: empty and a trailing ``/`` are fine."""
    return _validate(prefix, allow_trailing_slash=True, allow_empty=True)


def validate_relative_path(path: object) -> str:
    """Validate a caller's relative path (compute API, ``/files``): the same rules as a key."""
    return validate_key(path)
