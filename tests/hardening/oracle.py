"""The key oracle: what must hold for *any* string handed to the key entry points.

One function, :func:`check_key`, shared by the every-run tests (corpus, hypothesis, a seeded
loop) and the long atheris run (``tests/hardening/fuzz_keys.py``). It raises
:class:`KeyFinding` when a property breaks; any other exception escaping an entry point is a
finding too (the entry points may raise :class:`InvalidKeyError` and nothing else).

Checked for every input ``s``:

* ``validate_key``, ``validate_prefix``, ``parse_key``, ``classify``, ``safe_filename``,
  ``UrlResolver.public_url``, ``ComputeStorage.key_for`` and ``LocalStore._path`` raise nothing
  but :class:`InvalidKeyError` (``key_for`` also its "empty path" media error);
* an accepted key ``k`` is the NFC form of ``s``, a fixed point of ``validate_key``, at most
  1,024 UTF-8 bytes, with no control, surrogate, bidi or zero-width character, no backslash,
  no percent-escape, no leading ``/``, no drive letter, no empty, ``.``, ``..`` or dot/space-ended
  segment, and none of these either after NFKC folding (fullwidth look-alikes), and no segment
  that starts with an ASCII space;
* ``parse_key(s).key == k`` and ``parse_key(k) == parse_key(s)``, in the zone ``classify`` says;
* the local store maps ``k`` to ``objects/<k>.``, which stays under ``objects/`` both lexically
  (``normpath``) and after resolving symlinks, and is never the root itself; it refuses (as an
  invalid key) exactly the keys with a segment over 254 bytes, which no file name can hold;
* ``public_url(k)`` keeps the configured origin and decodes back to ``base path/k``;
* ``safe_filename(s)`` is one ASCII segment that ``validate_key`` accepts unchanged.
"""

from __future__ import annotations

import os
import posixpath
import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sartiq_storage.adapters.stores.local import LocalStore
from sartiq_storage.core.errors import InvalidKeyError, InvalidMediaInputError
from sartiq_storage.core.filenames import safe_filename
from sartiq_storage.core.keys import classify, parse_key
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.core.validation import MAX_KEY_BYTES, validate_key, validate_prefix
from sartiq_storage.services.compute import ComputeStorage

_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_DRIVE = re.compile(r"^[A-Za-z]:")
_INVISIBLE = set(
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
)
BASE = "https://cdn.example.com/bucket"


class KeyFinding(AssertionError):
    """A key property broke: the input and what went wrong."""

    def __init__(self, value: object, what: str) -> None:
        super().__init__(f"{what}: {value!r}"[:2000])


class KeyOracle:
    """Holds the store and resolvers so each check costs no set-up."""

    def __init__(self, root: Path) -> None:
        self.store = LocalStore(root)
        self.objects = os.path.realpath(self.store.objects)
        self.urls = UrlResolver(BASE)
        self.compute = ComputeStorage(self.store, self.urls, served_by_api=False)
        self.accepted = 0
        self.refused = 0

    def check(self, s: str) -> None:
        """Run every entry point on ``s``; raise :class:`KeyFinding` on a broken property."""
        try:
            k = validate_key(s)
        except InvalidKeyError:
            k = None
        self._others_agree(s, k)
        if k is None:
            self.refused += 1
            return
        self.accepted += 1
        self._accepted_key(s, k)
        self._local_path(s, k)
        self._url(k)

    def _others_agree(self, s: str, k: str | None) -> None:
        try:
            parsed = parse_key(s)
        except InvalidKeyError:
            if k is not None:
                raise KeyFinding(s, "parse_key refused a key validate_key accepts") from None
        else:
            if k is None:
                raise KeyFinding(s, "parse_key accepted a key validate_key refuses")
            if parsed.key != k or parse_key(k) != parsed or parsed.zone is not classify(k):
                raise KeyFinding(s, f"parse_key does not round-trip: {parsed!r}")
        try:
            prefix = validate_prefix(s)
        except InvalidKeyError:
            if k is not None:
                raise KeyFinding(s, "validate_prefix refused a valid key") from None
        else:
            if k is not None and prefix != k:
                raise KeyFinding(s, "validate_prefix and validate_key disagree")
            self._accepted_key(s, prefix.removesuffix("/"), prefix=True)
        try:
            compute = self.compute.key_for(s)
        except (InvalidKeyError, InvalidMediaInputError):
            if k is not None:
                raise KeyFinding(s, "key_for refused a valid key") from None
        else:
            if k is None or compute != "compute/" + k:
                raise KeyFinding(s, f"key_for gave {compute!r}")
        classify(s)
        name = safe_filename(s)
        if not name.isascii() or "/" in name or validate_key(name) != name:
            raise KeyFinding(s, f"safe_filename gave {name!r}")

    @staticmethod
    def _accepted_key(s: str, k: str, *, prefix: bool = False) -> None:
        if not k:
            if prefix:
                return
            raise KeyFinding(s, "empty key accepted")
        if k != unicodedata.normalize("NFC", s).removesuffix("/" if prefix else ""):
            raise KeyFinding(s, f"accepted key {k!r} is not the NFC form of the input")
        if not prefix and validate_key(k) != k:
            raise KeyFinding(s, "validate_key is not idempotent")
        if len(k.encode("utf-8", errors="strict")) > MAX_KEY_BYTES:
            raise KeyFinding(s, "longer than 1,024 bytes")
        for ch in k:
            cat = unicodedata.category(ch)
            if cat in ("Cc", "Cs", "Cn") or ch in _INVISIBLE:
                raise KeyFinding(s, f"accepted a U+{ord(ch):04X} ({cat})")
        for form in (k, unicodedata.normalize("NFKC", k)):
            if "\\" in form or form.startswith("/") or _DRIVE.match(form) or _ESCAPE.search(form):
                raise KeyFinding(s, f"accepted backslash, absolute, drive or escape: {form!r}")
            for segment in form.split("/"):
                if segment in ("", ".", "..") or segment[-1] in ". ":
                    raise KeyFinding(s, f"accepted a bad segment {segment!r} (in {form!r})")
        if any(segment.startswith(" ") for segment in k.split("/")):
            raise KeyFinding(s, "accepted a segment that starts with a space")

    def _local_path(self, s: str, k: str) -> None:
        too_long = any(len(seg.encode()) > 254 for seg in k.split("/"))
        try:
            key, path = self.store._path(s)
        except InvalidKeyError as exc:
            if too_long:
                return  # the file system's name limit: refused as a bad key, not an OSError
            raise KeyFinding(s, f"local store refused a valid key: {exc}") from None
        if too_long:
            raise KeyFinding(s, "local store accepted a segment the file system cannot name")
        expected = os.path.join(self.store.objects, k + ".")
        if key != k or str(path) != expected:
            raise KeyFinding(s, f"local path {path} is not objects/<key>.")
        lexical = posixpath.normpath(str(path))
        if lexical != expected or not lexical.startswith(str(self.store.objects) + os.sep):
            raise KeyFinding(s, f"local path {path} escapes objects/ lexically")
        real = os.path.realpath(path)
        if not real.startswith(self.objects + os.sep):
            raise KeyFinding(s, f"local path {path} resolves outside objects/")

    def _url(self, k: str) -> None:
        url = self.urls.public_url(k)
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != ("https", "cdn.example.com"):
            raise KeyFinding(k, f"public URL {url!r} left the configured origin")
        if not url.isascii() or any(c in url for c in "\r\n\t \\#?"):
            raise KeyFinding(k, f"public URL {url!r} has raw unsafe characters")
        if unquote(parts.path, errors="strict") != "/bucket/" + k:
            raise KeyFinding(k, f"public URL {url!r} does not decode to the key")
