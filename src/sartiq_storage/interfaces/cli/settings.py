"""``sartiq-storage config show`` and ``db upgrade``: the settings, and the schema they name."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from sartiq_storage.core.config import load_settings
from sartiq_storage.interfaces.cli.errors import CliError
from sartiq_storage.interfaces.cli.output import out, show_json


def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply the migrations (idempotent)."""
    from alembic.util.exc import CommandError

    from sartiq_storage.adapters.db.engine import Database
    from sartiq_storage.adapters.db.migrate import current_revision, upgrade
    from sartiq_storage.core.config import mask_url_password

    settings = load_settings()
    database = Database.from_settings(settings)
    try:
        try:
            upgrade(database, revision)
        except CommandError as exc:  # an unknown revision: alembic's own one-line reason
            raise CliError(f"db upgrade {revision}: {exc}") from None
        out.print(
            f"database {mask_url_password(settings.database_url)} "
            f"at revision {current_revision(database)}"
        )
    finally:
        database.dispose()


def config_show(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show every setting, secrets masked."""
    shown = load_settings().masked()
    if as_json:
        show_json(shown)
        return
    table = Table("setting", "value")
    for name, value in shown.items():
        table.add_row(name, value)
    out.print(table)
