"""Versioned datasets, the public surface: lakeFS semantics, native engine or a real lakeFS.

``open_engine(settings)`` wires the native engine on the configured store and database.
This module sits above the layers on purpose (it may import any of them).
"""

from __future__ import annotations

from sartiq_storage.adapters.datasets.dynamodb import DynamoKV, open_dynamo_kv
from sartiq_storage.adapters.datasets.kv import KV, MemoryKV, SqlKV
from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.migrate import upgrade
from sartiq_storage.adapters.stores import open_store
from sartiq_storage.core.config import Settings
from sartiq_storage.core.datasets.errors import (
    AlreadyExists,
    DatasetError,
    DirtyBranch,
    Gone,
    InvalidArgument,
    InvalidName,
    InvalidRef,
    MergeConflict,
    NoChanges,
    NotFound,
    PreconditionFailed,
    ProtectedBranch,
    ReadOnlyRepository,
    TooManyRetries,
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
from sartiq_storage.core.datasets.namespaces import RESERVED_PREFIXES
from sartiq_storage.core.datasets.protocol import DatasetStore
from sartiq_storage.core.lifecycle import policy_for
from sartiq_storage.services.datasets import NativeDatasetEngine

__all__ = [
    "KV",
    "AlreadyExists",
    "Branch",
    "Commit",
    "CommonPrefix",
    "DatasetError",
    "DatasetStore",
    "DiffEntry",
    "DirtyBranch",
    "DynamoKV",
    "Entry",
    "GcReport",
    "GcRules",
    "Gone",
    "InvalidArgument",
    "InvalidName",
    "InvalidRef",
    "Listing",
    "MemoryKV",
    "MergeConflict",
    "NativeDatasetEngine",
    "NoChanges",
    "NotFound",
    "PreconditionFailed",
    "ProtectedBranch",
    "ReadOnlyRepository",
    "ReflogEntry",
    "Repository",
    "SqlKV",
    "Tag",
    "TooManyRetries",
    "open_engine",
    "open_kv",
]


def open_engine(settings: Settings, *, migrate: bool = True) -> NativeDatasetEngine:
    """The native engine on the settings' store and metadata: the SQL database (schema
    upgraded first) or, with ``DATASETS_KV=dynamodb``, DynamoDB as the seed deploys lakeFS."""
    return NativeDatasetEngine(
        open_kv(settings, migrate=migrate),
        open_store(settings),
        reserved_prefixes=reserved_prefixes(settings),
    )


def open_kv(settings: Settings, *, migrate: bool = True) -> KV:
    """The metadata store ``DATASETS_KV`` selects."""
    if settings.DATASETS_KV == "dynamodb":
        return open_dynamo_kv(settings)
    database = Database.from_url(settings.database_url)
    if migrate:
        upgrade(database)
    return SqlKV(database, owns_database=True)


def reserved_prefixes(settings: Settings) -> tuple[str, ...]:
    """Where no repository may live: the content zones, and every prefix the lifecycle
    policy expires (a sweep would delete a repository's objects there)."""
    expiring = (rule.prefix for rule in policy_for(settings).expiring)
    return tuple(dict.fromkeys((*RESERVED_PREFIXES, *expiring)))


def _conforms(engine: NativeDatasetEngine) -> DatasetStore:
    return engine  # mypy proves the engine implements the whole protocol
