"""The native versioned-dataset engine (lakeFS semantics, Graveler's design)."""

from sartiq_storage.services.datasets.engine import NativeDatasetEngine

__all__ = ["NativeDatasetEngine"]
