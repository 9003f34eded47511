"""Which engines can pre-sign: the native one (it owns the store); an upstream lakeFS cannot
through us (its clients should talk to it directly): the staging routes answer 501 there, and
reads ignore ``presign=true`` and carry the bytes, as before (``/config`` says false)."""

from __future__ import annotations

from sartiq_storage.core.datasets.errors import NotSupportedError
from sartiq_storage.core.datasets.protocol import DatasetStore
from sartiq_storage.services.datasets.presigned import PresignedOperations


def presigner(engine: DatasetStore) -> PresignedOperations:
    if not isinstance(engine, PresignedOperations):
        raise NotSupportedError("pre-signed URLs are not supported by this engine")
    return engine


def can_presign(engine: DatasetStore) -> bool:
    return isinstance(engine, PresignedOperations)
