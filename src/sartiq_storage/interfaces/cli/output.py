"""Everything the CLI writes, in one place: results on stdout, progress and errors on stderr.

Commands never call ``print``, ``json.dumps`` or Rich's ``Console`` themselves; they use the
two consoles and the helpers here, so the shape of the output (whole lines, plain JSON for
scripts, one ``error:`` line per failure) is decided once.

On a terminal Rich fits tables to the window. Piped or redirected (``| grep``, ``> file``,
a subprocess), there is no window: Rich would assume 80 columns and cut or fold keys, so the
width is then unbounded and every line comes out whole, as a script needs it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

from rich.console import Console
from rich.markup import escape

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


def print_json(
    data: Any, *, indent: int | None = None, default: Callable[[Any], Any] | None = None
) -> None:
    """``--json`` output: plain JSON on stdout, no colours, no wrapping, for scripts."""
    print(json.dumps(data, indent=indent, default=default))


def print_json_text(text: str) -> None:
    """JSON already serialised (a pydantic model's ``model_dump_json``, as the HTTP API sends)."""
    print(text)


def show_json(data: Any, *, default: Callable[[Any], Any] | None = None) -> None:
    """JSON for people and scripts alike: indented, highlighted on a terminal only."""
    out.print_json(json.dumps(data, default=default))


def error_line(message: str) -> None:
    """The one line a failure is reported as (the caller then exits non-zero). The message
    is text, never markup: a key like ``media/[x]/file.png`` is shown as it is."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)


def write_bytes(chunks: Iterable[bytes]) -> None:
    """An object's bytes on stdout, unchanged (``get KEY -``, ``datasets cat``)."""
    for chunk in chunks:
        sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()


def flush() -> None:
    """Push what was written out now, before a long-running loop or server takes over."""
    sys.stdout.flush()
    sys.stderr.flush()
