"""A seeded generator of hostile keys: corpus mutations, traversal tokens and odd code points.

Deterministic for a seed, so the every-run loop is reproducible and a finding is replayed with
``Generator(seed).take(n)``. It favours what breaks key handling: separators and their
look-alikes, dots, escapes, controls, combining marks, surrogates, fullwidth forms and lengths
around the 1,024-byte limit.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from tests.hardening.corpus import TOKENS, TRAVERSAL, TWINS, VALID

# Code-point ranges worth sampling: ASCII, Latin-1, combining marks, general punctuation
# (bidi and zero-width), letter-like and dot leaders, fullwidth forms, specials, surrogates,
# private use, emoji, unassigned planes.
_RANGES = [
    (0x00, 0x7F),
    (0x80, 0xFF),
    (0x0300, 0x036F),
    (0x0370, 0x03FF),
    (0x2000, 0x206F),
    (0x2100, 0x215F),
    (0x2200, 0x22FF),
    (0x29F0, 0x29FF),
    (0x3000, 0x303F),
    (0xAC00, 0xAC20),
    (0xD800, 0xDFFF),
    (0xE000, 0xE010),
    (0xFDD0, 0xFDEF),
    (0xFE50, 0xFE6F),
    (0xFF00, 0xFF65),
    (0xFFF0, 0xFFFF),
    (0x1F600, 0x1F64F),
    (0xE0000, 0xE007F),
    (0x10FFF0, 0x10FFFF),
]
_SEEDS = [*TRAVERSAL, *VALID, *(a for a, _ in TWINS)]


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def _char(self) -> str:
        lo, hi = self.rng.choice(_RANGES)
        return chr(self.rng.randint(lo, hi))

    def _piece(self) -> str:
        roll = self.rng.random()
        if roll < 0.45:
            return self.rng.choice(TOKENS)
        if roll < 0.75:
            return self._char()
        if roll < 0.95:
            return "".join(self.rng.choice("abcxyz0129-_.") for _ in range(self.rng.randint(1, 12)))
        return self.rng.choice("ae\u00e9\U0001f600") * self.rng.randint(100, 1100)

    def _mutate(self, base: str) -> str:
        chars = list(base)
        for _ in range(self.rng.randint(1, 4)):
            op = self.rng.random()
            pos = self.rng.randint(0, len(chars))
            if op < 0.4:
                chars[pos:pos] = list(self._piece())
            elif op < 0.7 and chars:
                del chars[min(pos, len(chars) - 1)]
            elif chars:
                chars[min(pos, len(chars) - 1)] = self._char()
        return "".join(chars)

    def one(self) -> str:
        roll = self.rng.random()
        if roll < 0.35:
            return self._mutate(self.rng.choice(_SEEDS))
        if roll < 0.9:
            return "".join(self._piece() for _ in range(self.rng.randint(1, 8)))
        # near the byte limit, in one segment or many
        unit = self.rng.choice(["a", "é", "e\u0301", "\U0001f600", "ab/"])
        return "media/" + unit * (1018 // len(unit.encode()) + self.rng.randint(-3, 3))

    def take(self, n: int) -> Iterator[str]:
        for _ in range(n):
            yield self.one()
