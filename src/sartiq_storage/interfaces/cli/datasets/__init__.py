"""``sartiq-storage datasets``: versioned datasets (lakeFS semantics) from the terminal.

Every command works on the engine the settings choose (the embedded one, or a real lakeFS
when ``LAKEFS_ENDPOINT`` is set). Tables for people by default, ``--json`` for scripts. One
module per command group: ``repos`` (repositories and the namespace check), ``refs`` (branches
and tags), ``objects`` (upload, list, read, download), ``commits`` (commit, log, diff, merge,
revert, reset, reflog) and ``admin`` (import, gc); ``common`` holds what they share. The
commands are mounted in ``interfaces/cli/registry.py``.
"""
