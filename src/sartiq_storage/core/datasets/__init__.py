"""Pure parts of the versioned-dataset engine: names, refs, entries, errors (no I/O)."""
