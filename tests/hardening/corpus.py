"""Known path-traversal and key-confusion payloads, checked on every run.

``TRAVERSAL`` holds keys as a caller hands them to ``validate_key`` (already decoded once):
every one must be refused. ``TWINS`` are NFD/NFC pairs that must become one key.
``WIRE`` holds request targets as they arrive on the wire (still percent-encoded), for the
HTTP routes that take a key. ``TOKENS`` seeds the generator and atheris's dictionary.
"""

from __future__ import annotations

import unicodedata

FULLWIDTH_DOT = "\uff0e"
FULLWIDTH_SLASH = "\uff0f"
FULLWIDTH_BACKSLASH = "\uff3c"
FULLWIDTH_PERCENT = "\uff05"
RLO = "\u202e"

_DOTS = ["..", ".", "...", FULLWIDTH_DOT * 2, "\u2024\u2024", "\u2025", "\ufe52\ufe52", ".\u0338"]
_SEPS = ["/", "\\", FULLWIDTH_SLASH, FULLWIDTH_BACKSLASH, "\u2215", "\u2044", "\u29f8", "\ufe68"]

_TRAVERSAL_BASE = [
    # dot segments
    "..",
    ".",
    "../",
    "..\\",
    "../etc/passwd",
    "../../../../etc/passwd",
    "media/../../etc/passwd",
    "media/../temp/x",
    "media/./x",
    "media/x/..",
    "media/x/.",
    "./media/x",
    "media//x",
    "media/x/",
    "/",
    "//",
    "...//",
    "....//....//etc/passwd",
    # encoded and double-encoded dots and slashes (refused, never decoded a second time)
    "%2e%2e/x",
    "%2E%2E%2Fx",
    "..%2fx",
    "..%2Fetc%2Fpasswd",
    "%2e%2e%5cx",
    "..%5cx",
    "%252e%252e/x",
    "%252e%252e%252fetc%252fpasswd",
    "%25252e%25252e/x",
    "%c0%ae%c0%ae/x",
    "%c0%af",
    "%e0%80%ae%e0%80%ae/",
    "media/%00.png",
    "media/x%0d%0aSet-Cookie:a=b",
    # fullwidth and other look-alikes of '.', '/', '\'
    FULLWIDTH_DOT + FULLWIDTH_DOT,
    FULLWIDTH_DOT + FULLWIDTH_DOT + "/x",
    "media/" + FULLWIDTH_DOT + FULLWIDTH_DOT + "/x",
    FULLWIDTH_DOT + FULLWIDTH_DOT + FULLWIDTH_SLASH + "etc" + FULLWIDTH_SLASH + "passwd",
    "media" + FULLWIDTH_SLASH + ".." + FULLWIDTH_SLASH + "x",
    "media" + FULLWIDTH_BACKSLASH + "x",
    "media\u2215..\u2215x",
    "media\u2044x",
    "\u2024\u2024/x",
    "\u2025/x",
    "\ufe52\ufe52/x",
    "media/x" + FULLWIDTH_DOT,
    FULLWIDTH_PERCENT + "2e" + FULLWIDTH_PERCENT + "2e/x",
    "\uff23:\\x",
    # NUL and other controls
    "media/x\x00.png",
    "\x00",
    "media/x\x00/../../etc/passwd",
    "media/x\n.png",
    "media/x\r\nLocation: http://evil.example/",
    "media/\tx",
    "media/x\x7f",
    "media/x\x1b[31m",
    "media/x\u0085",
    # absolute paths, drive letters, UNC
    "/etc/passwd",
    "/media/x",
    "C:\\Windows\\win.ini",
    "C:/Windows/win.ini",
    "c:x",
    "C:",
    "\\\\host\\share\\x",
    "\\\\?\\C:\\x",
    "\\\\.\\pipe\\x",
    "//host/share/x",
    "\\x",
    "media\\..\\..\\x",
    # trailing dot or space, leading space (Windows strips them; two names become one)
    "media/x.",
    "media/x ",
    "media/x. ",
    "media/x . ",
    "media./x",
    "media /x",
    " media/x",
    "media/ x",
    # bidi and invisible characters
    "media/" + RLO + "gnp.exe",
    "media/x" + RLO + "fdp.png",
    "media/\u202ax",
    "media/\u2066x\u2069",
    "media/x\u200b.png",
    "media/x\u200d",
    "\ufeffmedia/x",
    "media/x\u200e",
    # lone surrogates, non-characters, unassigned
    "media/\ud800",
    "media/x\udfff.png",
    "media/\ufffe",
    "media/\uffff",
    "media/\ufdd0",
    "media/\U0010ffff",
    # length: 1,025 UTF-8 bytes (ASCII, and multibyte that crosses the limit)
    "a" * 1025,
    "media/" + "a" * 1019,
    "media/" + "é" * 510,
    "media/" + "\U0001f600" * 255,
    # empty
    "",
]


def _nfd_overflow() -> str:
    """NFD-long, NFC exactly 1,025 bytes: the limit applies after normalisation."""
    return "media/" + "e\u0301" * 509 + "ab"


TRAVERSAL: list[str] = [*_TRAVERSAL_BASE, _nfd_overflow()]

# (NFD spelling, NFC spelling): both must validate to the NFC one.
TWINS: list[tuple[str, str]] = [
    (unicodedata.normalize("NFD", s), unicodedata.normalize("NFC", s))
    for s in (
        "media/café.png",
        "images/products/Å/product_Å_SKU_u_cover.png",
        "temp/abc_1_résumé.jpg",
        "compute/generations/tâche/result_0.webp",
        "shooting_looks/ñ/outfit_ñ_u.webp",
        "media/한국어/file.png",
        "media/" + ("é" * 100 + "/") * 4 + "é" * 100,  # NFD 1,510 bytes, NFC 1,010: accepted
        "Ω/\u212b",  # Angstrom sign (NFC: Å)
    )
]

# Valid keys the corpus must not refuse (so the tests can tell refusal from breakage).
VALID: list[str] = [
    "media/3f1b6a3c-9a53-4c36-9c1d-3b1f5b0f8a11/file.webp",
    "temp/abc123_1706000000_product-001.jpg",
    "compute/generations/task789/result_0.webp",
    "images/products/abc123/product_abc123_SKU001_d4e5f6_cover.webp",
    "shooting_looks/look345/outfit_look345_d4e5f6.webp",
    "a" * 1024,
    "media/" + "é" * 509,  # 1,024 bytes
    "media/..x/y",
    # accepted, and harmless because nothing downstream decodes or interprets them
    "..;/etc/passwd",
    "%u002e%u002e/x",
    "...x/y",
    "media/x..y",
    "media/.hidden",
    "media/50%off.png",
    "media/a b",
    "media/@evil.example",
    "media/x:y",
    "evil.example",
    "ｅｖｉｌ．ｅｘａｍｐｌｅ",
    "media/café.png",
]

TOKENS: list[str] = sorted(
    {
        *_DOTS,
        *_SEPS,
        "%2e",
        "%2f",
        "%5c",
        "%25",
        "%00",
        "%",
        "\x00",
        "\r",
        "\n",
        "\t",
        " ",
        "C:",
        "\\\\",
        "//",
        RLO,
        "\u200b",
        "\ufeff",
        "\ud800",
        "e\u0301",
        "é",
        "\u212b",
        "\u037e",
        "media/",
        "temp/",
        "compute/",
        "images/",
        "shooting_looks/",
        "file.webp",
        "result_0.webp",
        "_",
        "a",
        "\U0001f600",
        "\u3000",
        "\u00a0",
        "?",
        "#",
        "@",
        ":",
    }
)
