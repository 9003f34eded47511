"""File names, extensions and content types. Pure: no I/O.

A browser's file name ends up inside an object key (``temp/{file_id}_{timestamp}_{name}``), so it
is reduced to a small ASCII alphabet that every backend, URL and shell handles the same way.
Extensions get one canonical spelling so that ``.JPEG``, ``.jpe`` and ``image/jpeg`` all lead to
the same ``jpg``. See ``docs/keys.md``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

#: Image and video extensions the platform serves, in canonical spelling.
MEDIA_EXTENSIONS: Final[frozenset[str]] = frozenset(
    {
        "jpg",
        "png",
        "webp",
        "gif",
        "avif",
        "heic",
        "heif",
        "tiff",
        "bmp",
        "svg",
        "mp4",
        "mov",
        "webm",
        "m4v",
    }
)

#: Other spellings of a canonical extension.
EXTENSION_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {"jpeg": "jpg", "jpe": "jpg", "jfif": "jpg", "tif": "tiff"}
)

#: Canonical extension → the content type we store and serve it with.
CONTENT_TYPE_FOR_EXTENSION: Final[Mapping[str, str]] = MappingProxyType(
    {
        "jpg": "image/jpeg",
        "png": "image/png",
        "webp": "image/webp",
        "gif": "image/gif",
        "avif": "image/avif",
        "heic": "image/heic",
        "heif": "image/heif",
        "tiff": "image/tiff",
        "bmp": "image/bmp",
        "svg": "image/svg+xml",
        "mp4": "video/mp4",
        "mov": "video/quicktime",
        "webm": "video/webm",
        "m4v": "video/x-m4v",
    }
)

#: Content type (lowercase, no parameters) → canonical extension. The inverse of
#: :data:`CONTENT_TYPE_FOR_EXTENSION` plus non-standard types some browsers still send.
EXTENSION_FOR_CONTENT_TYPE: Final[Mapping[str, str]] = MappingProxyType(
    {ct: ext for ext, ct in CONTENT_TYPE_FOR_EXTENSION.items()}
    | {"image/jpg": "jpg", "image/pjpeg": "jpg"}
)

DEFAULT_CONTENT_TYPE: Final = "application/octet-stream"
#: The smallest ``max_bytes`` :func:`safe_filename` accepts: room for ``file-LPT9.webp``.
MIN_FILENAME_BYTES: Final = 16

_EXTENSION = re.compile(r"[a-z0-9]{1,10}")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")
_DASH_RUN = re.compile(r"-{2,}")
_SEPARATORS = re.compile(r"[/\\]")
_STRIP = "._- "
# Letters NFKD does not decompose but that have an obvious ASCII spelling.
_TRANSLITERATION = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "SS",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "Th",
        "ı": "i",
    }
)
# Windows refuses these stems whatever the extension; users download our files to Windows.
_RESERVED_STEMS = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(10)} | {f"LPT{i}" for i in range(10)}
)


def normalize_extension(ext: str) -> str:
    """Return the canonical spelling of a file extension.

    Lowercases, strips one leading dot and maps aliases (``jpeg``/``jpe``/``jfif`` → ``jpg``,
    ``tif`` → ``tiff``). Extensions outside :data:`MEDIA_EXTENSIONS` are kept (lowercased): this
    function spells, it does not decide what is allowed. Raises :class:`ValueError` unless the
    result is 1-10 ASCII letters or digits.
    """
    if not isinstance(ext, str) or not ext.isascii():
        raise ValueError(f"invalid extension {ext!r}: must be ASCII letters and digits")
    normalized = ext.lower()
    if normalized.startswith("."):
        normalized = normalized[1:]
    normalized = EXTENSION_ALIASES.get(normalized, normalized)
    if not _EXTENSION.fullmatch(normalized):
        raise ValueError(f"invalid extension {ext!r}: must be 1-10 ASCII letters or digits")
    return normalized


def extension_for_content_type(content_type: str) -> str | None:
    """Return the canonical extension for a content type, or ``None`` if we don't know it.

    Parameters (``; charset=...``) and case are ignored, as HTTP says they must be.
    """
    essence = content_type.split(";", 1)[0].strip().lower()
    return EXTENSION_FOR_CONTENT_TYPE.get(essence)


def content_type_for_extension(ext: str) -> str:
    """Return the content type for an extension (any spelling), or ``application/octet-stream``."""
    try:
        canonical = normalize_extension(ext)
    except ValueError:
        return DEFAULT_CONTENT_TYPE
    return CONTENT_TYPE_FOR_EXTENSION.get(canonical, DEFAULT_CONTENT_TYPE)


def _plausible_extension(raw: str) -> str | None:
    try:
        return normalize_extension(raw)
    except ValueError:
        return None


def _to_ascii(text: str) -> str:
    if text.isascii():
        return text  # NFC, the table (non-ASCII letters only) and NFKD leave ASCII as it is
    text = unicodedata.normalize("NFC", text).translate(_TRANSLITERATION)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def safe_filename(name: str, *, content_type: str | None = None, max_bytes: int = 100) -> str:
    """Turn an uploaded file's name into one safe key segment, ``{stem}`` or ``{stem}.{ext}``.

    Rules, in order:

    1. Keep only the basename: the text after the last ``/`` or ``\\`` (browsers on Windows
       and old IE send full paths; ``../../etc/passwd`` → ``passwd``).
    2. NFC-normalise, transliterate to ASCII (a small table for ``ß``/``æ``/``ø``…, then NFKD
       and drop combining marks: ``résumé`` → ``resume``).
    3. Replace every run of characters outside ``[A-Za-z0-9._-]`` (spaces, untransliterated
       letters, controls, bidi overrides such as U+202E, ``%``) with one ``-``.
    4. Split off the text after the last dot as the candidate extension. If ``content_type``
       maps to an extension (:func:`extension_for_content_type`), that extension wins and a
       plausible name extension is dropped (``photo.exe`` + ``image/png`` → ``photo.png``).
       Otherwise the name's extension is kept, canonicalised, only if it is one of
       :data:`MEDIA_EXTENSIONS`; any other one is folded into the stem (``a.exe`` → ``a-exe``).
    5. The result holds at most one dot: dots left in the stem become ``-``
       (``invoice.pdf.jpg`` → ``invoice-pdf.jpg``), runs of ``-`` collapse to one, and leading
       and trailing ``.``, ``-``, ``_`` and spaces are stripped.
    6. The stem is cut so the whole name fits in ``max_bytes`` bytes (the result is ASCII, so
       bytes are characters), keeping the extension.
    7. An empty stem becomes ``file``; a Windows reserved stem (``CON``, ``PRN``, ``AUX``,
       ``NUL``, ``COM0-9``, ``LPT0-9``, any case) gets a ``file-`` prefix.

    The result is never empty and always passes ``validate_key`` as a single segment.
    ``max_bytes`` must be at least :data:`MIN_FILENAME_BYTES`.
    """
    if max_bytes < MIN_FILENAME_BYTES:
        raise ValueError(f"max_bytes must be at least {MIN_FILENAME_BYTES}, got {max_bytes}")
    basename = _SEPARATORS.split(name)[-1]
    text = _UNSAFE_RUN.sub("-", _to_ascii(basename))

    stem, dot, raw_ext = text.rpartition(".")
    name_ext = _plausible_extension(raw_ext) if dot else None
    type_ext = extension_for_content_type(content_type) if content_type else None
    if type_ext is not None:
        ext: str | None = type_ext
        if name_ext is None:
            stem = text
    elif name_ext in MEDIA_EXTENSIONS:
        ext = name_ext
    else:
        ext, stem = None, text

    stem = _DASH_RUN.sub("-", stem.replace(".", "-")).strip(_STRIP)
    suffix = f".{ext}" if ext else ""
    stem = stem[: max_bytes - len(suffix)].strip(_STRIP)
    if not stem:
        stem = "file"
    elif stem.upper() in _RESERVED_STEMS:
        stem = f"file-{stem}"
    return f"{stem}{suffix}"
