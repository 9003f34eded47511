"""The per-object three-way merge rule of lakeFS (whole objects, compared by identity).

| base | source | dest | result |          (X = absent)
| A | A | A | A |  | A | B | B | B |  | A | B | C | conflict |  | A | A | B | B |
| A | B | A | B |  | A | X | X | X |  | A | B | X | conflict |  | A | X | B | conflict |
| A | A | X | X |  | A | X | A | X |  | X | B | C | conflict |
"""

from __future__ import annotations

from typing import Literal

Side = Literal["source", "dest"]
Outcome = Literal["source", "dest", "conflict"]


def merge_outcome(base: str | None, source: str | None, dest: str | None) -> Outcome:
    """Which side's value the result takes, given identities (None means absent)."""
    if source == dest:
        return "dest"
    if source == base:
        return "dest"
    if dest == base:
        return "source"
    return "conflict"


def resolve_outcome(
    outcome: Outcome, strategy: str | None, resolution: Side | None = None
) -> Outcome:
    """Apply a per-path resolution, else the strategy (which covers every conflict)."""
    if outcome != "conflict":
        return outcome
    if resolution is not None:
        return resolution
    if strategy == "source-wins":
        return "source"
    if strategy == "dest-wins":
        return "dest"
    return "conflict"
