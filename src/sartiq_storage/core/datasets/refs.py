"""Ref expressions (``main~2^2@``), parsed without resolving: resolution needs the KV store.

lakeFS resolves the base in this order: full commit id, branch, tag, unique commit-id prefix
(at least 6 hex digits); then applies the modifiers left to right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sartiq_storage.core.datasets.errors import InvalidRefError

MIN_PREFIX = 6
_HEX = re.compile(r"^[0-9a-f]+$")
_FULL_ID = re.compile(r"^[0-9a-f]{64}$")
_MODIFIER = re.compile(r"([~^])(\d*)")


@dataclass(frozen=True, slots=True)
class Modifier:
    kind: Literal["~", "^"]
    """``~N``: N-th first-parent ancestor; ``^N``: N-th parent (``^0`` is the commit itself)."""
    n: int


@dataclass(frozen=True, slots=True)
class RefExpr:
    base: str
    modifiers: tuple[Modifier, ...] = ()
    committed_only: bool = False
    """A trailing ``@``: the branch's committed state, without staged changes."""

    @property
    def plain(self) -> bool:
        return not self.modifiers


def is_full_commit_id(text: str) -> bool:
    return bool(_FULL_ID.match(text))


def is_commit_prefix(text: str) -> bool:
    return len(text) >= MIN_PREFIX and bool(_HEX.match(text))


def parse_ref(expr: str) -> RefExpr:
    if not isinstance(expr, str) or not expr:
        raise InvalidRefError("empty ref")
    committed_only = False
    text = expr
    if text.endswith("@"):
        committed_only, text = True, text[:-1]
    elif text.endswith("$"):
        text = text[:-1]  # the staging view, which is the default for a branch
    cut = min((i for i in (text.find("~"), text.find("^")) if i >= 0), default=len(text))
    base, rest = text[:cut], text[cut:]
    if not base:
        raise InvalidRefError(f"ref {expr!r} has no base")
    modifiers: list[Modifier] = []
    pos = 0
    while pos < len(rest):
        match = _MODIFIER.match(rest, pos)
        if match is None:
            raise InvalidRefError(f"cannot parse ref {expr!r} at {rest[pos:]!r}")
        kind: Literal["~", "^"] = "~" if match.group(1) == "~" else "^"
        modifiers.append(Modifier(kind, int(match.group(2)) if match.group(2) else 1))
        pos = match.end()
    return RefExpr(base, tuple(modifiers), committed_only)
