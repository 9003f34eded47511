"""The ``sartiq-storage`` command: serve, inspect settings and keys, operate on objects.

``main`` is the console entry point (``pyproject.toml``); the command tree it runs is built
in ``registry.py``, each command in the module named for its group. Every failure is one
clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import SQLAlchemyError

from sartiq_storage.core.errors import StorageError
from sartiq_storage.interfaces.cli.output import err, error_line
from sartiq_storage.interfaces.cli.registry import app

__all__ = ["app", "main"]


def main() -> None:
    """Console entry point: run the app, turning known errors into one line and exit 1."""
    try:
        # Without standalone mode Click returns a command's `typer.Exit(code)` instead of
        # exiting with it: pass it on, or every "exit 1" would leave as 0.
        code = app(standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool):
            sys.exit(code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except (StorageError, ValueError, OSError) as exc:
        error_line(str(exc))
        sys.exit(1)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        error_line(f"database: {reason}")
        sys.exit(1)
    except Exception as exc:
        # Click's usage errors (Typer vendors its own copy of Click) know how to show
        # themselves; anything else is a bug and keeps its traceback.
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(getattr(exc, "exit_code", None), int):
            show()
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        raise
