"""Versioned datasets, the public surface: lakeFS semantics, native engine or a real lakeFS.

``open_engine(settings)`` wires the native engine on the configured store and database.
This module sits above the layers on purpose (it may import any of them).
"""

from __future__ import annotations

from sartiq_storage.adapters.datasets.dynamodb import DynamoKV
from sartiq_storage.adapters.datasets.kv import KV, MemoryKV, SqlKV
from sartiq_storage.core.config import Settings
from sartiq_storage.core.datasets.errors import (
    AlreadyExistsError,
    DatasetError,
    DirtyBranchError,
    GoneError,
    InvalidArgumentError,
    InvalidNameError,
    InvalidRefError,
    MergeConflictError,
    NoChangesError,
    NotFoundError,
    PreconditionFailedError,
    ProtectedBranchError,
    ReadOnlyRepositoryError,
    TooManyRetriesError,
)
from sartiq_storage.core.datasets.model import (
    Branch,
    Commit,
    CommonPrefix,
    DiffEntry,
    Entry,
    GcReport,
    GcRules,
    Listing,
    ReflogEntry,
    Repository,
    Tag,
)
from sartiq_storage.core.datasets.protocol import DatasetStore
from sartiq_storage.services.context import open_native_datasets, reserved_prefixes
from sartiq_storage.services.datasets import NativeDatasetEngine

__all__ = [
    "KV",
    "AlreadyExistsError",
    "Branch",
    "Commit",
    "CommonPrefix",
    "DatasetError",
    "DatasetStore",
    "DiffEntry",
    "DirtyBranchError",
    "DynamoKV",
    "Entry",
    "GcReport",
    "GcRules",
    "GoneError",
    "InvalidArgumentError",
    "InvalidNameError",
    "InvalidRefError",
    "Listing",
    "MemoryKV",
    "MergeConflictError",
    "NativeDatasetEngine",
    "NoChangesError",
    "NotFoundError",
    "PreconditionFailedError",
    "ProtectedBranchError",
    "ReadOnlyRepositoryError",
    "ReflogEntry",
    "Repository",
    "SqlKV",
    "Tag",
    "TooManyRetriesError",
    "open_engine",
    "reserved_prefixes",
]


def open_engine(settings: Settings, *, migrate: bool = True) -> NativeDatasetEngine:
    """The native engine on the settings' store and metadata: the SQL database (schema
    upgraded first) or, with ``DATASETS_KV=dynamodb``, DynamoDB as the seed deploys lakeFS."""
    return open_native_datasets(settings, migrate=migrate)


def _conforms(engine: NativeDatasetEngine) -> DatasetStore:
    return engine  # mypy proves the engine implements the whole protocol
