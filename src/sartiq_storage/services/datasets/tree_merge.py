"""Three-way merge and diff over committed trees: pure functions of a :class:`CommittedStore`.

Graveler's CommittedManager role: everything here compares metaranges by record identity
and never touches branches, staging or the KV store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Literal

from sartiq_storage.core.datasets.errors import InvalidArgumentError, MergeConflictError
from sartiq_storage.core.datasets.merge import merge_outcome, resolve_outcome
from sartiq_storage.core.datasets.model import DiffEntry, DiffType
from sartiq_storage.core.datasets.ranges import Record
from sartiq_storage.services.datasets.committed import Change, CommittedStore, Within

DiffMode = Literal["three_dot", "two_dot"]


def identity(record: Record | None) -> str | None:
    """What merge and diff compare; None for an absent path."""
    return None if record is None else record.identity


def prefix_within(prefixes: Sequence[str], objects: Sequence[str]) -> Within:
    """A range filter: can ``[lo, hi]`` hold one of ``objects`` or a path under ``prefixes``?"""

    def within(lo: str, hi: str) -> bool:
        if any(lo <= p <= hi for p in objects):
            return True
        return any(hi >= p and (lo <= p or lo.startswith(p)) for p in prefixes)

    return within


def three_way(
    committed: CommittedStore,
    ns: str,
    base_tree: str,
    source_tree: str,
    dest_tree: str,
    strategy: str | None,
    resolutions: Mapping[str, Literal["source", "dest"]],
) -> list[Change]:
    """The changes that bring ``dest_tree`` the source's side; every conflict at once."""
    dest_changes = {path: new for path, _old, new in committed.diff(ns, base_tree, dest_tree)}
    changes: list[Change] = []
    conflicts: list[str] = []
    for path, base, source in committed.diff(ns, base_tree, source_tree):
        dest = dest_changes.get(path, base)
        outcome = merge_outcome(identity(base), identity(source), identity(dest))
        outcome = resolve_outcome(outcome, strategy, resolutions.get(path))
        if outcome == "conflict":
            conflicts.append(path)
        elif outcome == "source" and identity(source) != identity(dest):
            changes.append((path, source))
    if conflicts:
        raise MergeConflictError(conflicts)
    return changes


def diff_entry(path: str, old: Record | None, new: Record | None) -> DiffEntry:
    kind: DiffType = "added" if old is None else "removed" if new is None else "changed"
    sized = new if new is not None else old
    return DiffEntry(kind, path, "object", None if sized is None else int(sized.size))


def diff_rows(
    committed: CommittedStore,
    ns: str,
    left_tree: str,
    right_tree: str,
    *,
    mode: DiffMode,
    base_tree: str | None,
    within: Within | None,
) -> Iterator[DiffEntry]:
    """Two-dot: left against right. Three-dot: the base against right, marking the paths
    whose change conflicts with the left side's (``base_tree`` is the merge base's)."""
    if mode == "two_dot":
        for path, old, new in committed.diff(ns, left_tree, right_tree, within=within):
            yield diff_entry(path, old, new)
        return
    if mode != "three_dot" or base_tree is None:
        raise InvalidArgumentError(f"unknown diff mode {mode!r}")
    left_changes = {
        path: new for path, _old, new in committed.diff(ns, base_tree, left_tree, within=within)
    }
    for path, old, new in committed.diff(ns, base_tree, right_tree, within=within):
        entry = diff_entry(path, old, new)
        if path in left_changes and (
            merge_outcome(identity(old), identity(new), identity(left_changes[path])) == "conflict"
        ):
            entry = DiffEntry("conflict", path, "object", entry.size_bytes)
        yield entry


def page(
    rows: Iterable[DiffEntry], *, prefix: str, delimiter: str, after: str, amount: int
) -> list[DiffEntry]:
    """One page of diff rows, folded into common prefixes at ``delimiter``."""
    out: list[DiffEntry] = []
    last_common = ""
    for row in rows:
        if prefix and not row.path.startswith(prefix):
            continue
        if delimiter:
            cut = row.path.find(delimiter, len(prefix))
            if cut >= 0:
                common = row.path[: cut + len(delimiter)]
                if common == last_common or (after and common <= after):
                    continue
                last_common = common
                row = DiffEntry("prefix_changed", common, "common_prefix")
        if after and row.path <= after:
            continue
        out.append(row)
        if len(out) >= amount:
            break
    return out
