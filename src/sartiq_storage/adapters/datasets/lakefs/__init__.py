"""``DatasetStore`` over a lakeFS server: the official SDK client, split by call group."""

from sartiq_storage.adapters.datasets.lakefs.engine import LakeFSEngine
from sartiq_storage.adapters.datasets.lakefs.errors import AuthenticationFailedError, map_error

__all__ = ["AuthenticationFailedError", "LakeFSEngine", "map_error"]
