"""ASGI layers around the whole service: the lakeFS sub-app too, and the ``/files`` fast path
by its own hand.

Registered by the app factory in one line (:func:`install_layers`); plain ASGI so streaming
bodies pass through untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sartiq_storage.interfaces.http.middleware.access_log import AccessLog

if TYPE_CHECKING:
    from sartiq_storage.interfaces.http.app import StorageApp


def install_layers(app: StorageApp) -> None:
    """The access log with ``X-Request-ID`` and ``no-store`` on dynamic answers, one layer.

    The ``/files`` fast path skips it and does the same work itself (``fast_files.py``): the
    layer alone costs about what that whole answer costs (``docs/benchmarks.md``).
    """
    app.wrap(AccessLog)
    app.fast_logged = True
