"""Settings and wiring, the public surface: what a host reads, opens and migrates.

``load_settings()`` reads the environment (the platform's own names, ``README.md``);
``build_context(settings)`` wires the store, the database and every service, and is what
``sartiq_storage.api.create_app`` serves; ``Database`` and ``upgrade`` put our tables into
a database shared with a host application (``docs/embedding.md``). This module sits above
the layers on purpose (it may import any of them; none of them imports it).
"""

from __future__ import annotations

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.migrate import current_revision, head_revision, upgrade
from sartiq_storage.core.config import (
    BackendKind,
    Environment,
    Settings,
    load_settings,
    mask_url_password,
)
from sartiq_storage.core.errors import ConfigurationError
from sartiq_storage.services.context import StorageContext, build_context

__all__ = [
    "BackendKind",
    "ConfigurationError",
    "Database",
    "Environment",
    "Settings",
    "StorageContext",
    "build_context",
    "current_revision",
    "head_revision",
    "load_settings",
    "mask_url_password",
    "upgrade",
]
