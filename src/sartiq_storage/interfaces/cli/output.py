"""The CLI's two consoles: results on stdout, progress and errors on stderr.

On a terminal Rich fits tables to the window. Piped or redirected (``| grep``, ``> file``,
a subprocess), there is no window: Rich would assume 80 columns and cut or fold keys, so the
width is then unbounded and every line comes out whole, as a script needs it.
"""

from __future__ import annotations

from rich.console import Console

UNBOUNDED = 1_000_000
"""Columns for output that is not a terminal: wider than any row, so nothing is cut."""


def make_console(*, stderr: bool = False) -> Console:
    """A console for stdout (or stderr) that never cuts lines when it is not a terminal."""
    console = Console(stderr=stderr, soft_wrap=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, soft_wrap=stderr, width=UNBOUNDED)
    return console


out = make_console()
err = make_console(stderr=True)
