"""Which engines can pre-sign: the native one (it owns the store); an upstream lakeFS cannot
through us (its clients should talk to it directly), so the routes answer 501 there."""

from __future__ import annotations

from sartiq_storage.core.datasets.errors import NotSupportedError
from sartiq_storage.core.datasets.protocol import DatasetStore
from sartiq_storage.services.datasets.presigned import PresignedOperations


def presigner(engine: DatasetStore) -> PresignedOperations:
    if not isinstance(engine, PresignedOperations):
        raise NotSupportedError("pre-signed URLs are not supported by this engine")
    return engine
