"""A lakeFS-compatible REST API over the dataset engine, for lakeFS's own clients."""

from sartiq_storage.interfaces.http.lakefs.app import (
    LAKEFS_API_PREFIX,
    LAKEFS_MOUNT,
    create_lakefs_app,
    mount_lakefs,
)

__all__ = ["LAKEFS_API_PREFIX", "LAKEFS_MOUNT", "create_lakefs_app", "mount_lakefs"]
