"""The HTTP service, the public surface: the app factory, to serve or to mount in a host.

``create_app(settings)`` is the whole service (``sartiq-storage serve`` runs it);
``create_app(context=..., auth=host_dependency)`` is the same app for a host FastAPI
application to mount under its own prefix and its own authentication (``docs/embedding.md``).
The route groups are not exported one by one: they need the app's context, body gate and
error handlers, so the app is the unit to mount. This module sits above the layers on
purpose (it may import any of them; none of them imports it).
"""

from __future__ import annotations

from sartiq_storage.core.tokens import SCOPES, Caller, issue_token, verify_token
from sartiq_storage.interfaces.http.app import APPS, StorageApp, app_from_environment, create_app
from sartiq_storage.interfaces.http.host_auth import HostAuth, host_guard, use_host_auth

__all__ = [
    "APPS",
    "SCOPES",
    "Caller",
    "HostAuth",
    "StorageApp",
    "app_from_environment",
    "create_app",
    "host_guard",
    "issue_token",
    "use_host_auth",
    "verify_token",
]
