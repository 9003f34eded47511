"""lakeFS's naming rules, enforced so data and code stay portable to a real lakeFS."""

from __future__ import annotations

import re

from sartiq_storage.core.datasets.errors import InvalidNameError

_REPO = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")
_BRANCH = re.compile(r"^\w[-\w]*$", re.ASCII)
_TAG_FORBIDDEN = frozenset("^:?*[\\/ ")
MAX_PATH_BYTES = 4096


def validate_repository_name(name: str) -> str:
    if not isinstance(name, str) or not _REPO.match(name):
        raise InvalidNameError(f"invalid repository name {name!r}: must match {_REPO.pattern}")
    return name


def validate_branch_name(name: str) -> str:
    """Go's ``\\w`` is ASCII, so ours is too; no ``/`` and no ``.`` unlike git."""
    if not isinstance(name, str) or not _BRANCH.match(name):
        raise InvalidNameError(f"invalid branch name {name!r}: must match {_BRANCH.pattern}")
    return name


def validate_tag_name(name: str) -> str:
    """git ref rules as lakeFS applies them (``~`` is allowed)."""
    reason = _tag_problem(name) if isinstance(name, str) else "not a string"
    if reason:
        raise InvalidNameError(f"invalid tag name {name!r}: {reason}")
    return name


def _tag_problem(name: str) -> str:
    if not name or name == "@":
        return "empty or '@'"
    if ".." in name or "@{" in name:
        return "contains '..' or '@{'"
    if any(ch in _TAG_FORBIDDEN for ch in name):
        return "contains one of ^:?*[\\/ or a space"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return "contains a control character"
    if name.endswith(".") or name.endswith(".lock") or name.startswith("."):
        return "starts with '.' or ends with '.' or '.lock'"
    return ""


def validate_path(path: str) -> str:
    """Object paths are any non-empty string without NUL (lakeFS paths are free-form keys)."""
    if not isinstance(path, str) or not path:
        raise InvalidNameError("object path must be a non-empty string")
    if "\x00" in path:
        raise InvalidNameError("object path contains NUL")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise InvalidNameError(f"object path longer than {MAX_PATH_BYTES} bytes")
    return path
