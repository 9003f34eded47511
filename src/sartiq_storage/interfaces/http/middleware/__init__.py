"""ASGI layers around the whole service: the ``/files`` fast path and the lakeFS sub-app too.

Registered by the app factory in one line (:func:`install_layers`); each is plain ASGI so
streaming bodies pass through untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sartiq_storage.interfaces.http.middleware.access_log import AccessLog
from sartiq_storage.interfaces.http.middleware.no_store import NoStore

if TYPE_CHECKING:
    from sartiq_storage.interfaces.http.app import StorageApp


def install_layers(app: StorageApp) -> None:
    """``no-store`` on dynamic answers, inside the access log (which adds ``X-Request-ID``)."""
    app.wrap(NoStore)
    app.wrap(AccessLog)
