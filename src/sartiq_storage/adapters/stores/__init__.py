"""Object stores: one interface, three backends (local disk, memory, S3-compatible)."""

from __future__ import annotations

from sartiq_storage.adapters.local_secrets import load_or_create_secret
from sartiq_storage.adapters.stores.base import (
    DeleteFailure,
    ObjectInfo,
    ObjectStore,
    ObjectStream,
    PresignedRequest,
    PutResult,
    md5_from_etag,
)
from sartiq_storage.adapters.stores.local import LocalStore
from sartiq_storage.adapters.stores.memory import MemoryStore
from sartiq_storage.adapters.stores.s3 import S3Store
from sartiq_storage.core.config import BackendKind, Settings
from sartiq_storage.core.errors import ConfigurationError
from sartiq_storage.core.signing import UrlSigner

__all__ = [
    "DATASETS_ZONE",
    "DeleteFailure",
    "LocalStore",
    "MemoryStore",
    "ObjectInfo",
    "ObjectStore",
    "ObjectStream",
    "PresignedRequest",
    "PutResult",
    "S3Store",
    "md5_from_etag",
    "open_datasets_bucket",
    "open_datasets_folder",
    "open_store",
    "signer_for",
]


DATASETS_ZONE = "datasets"
"""The zone the datasets folder's signed URLs name (``routes/embedded.py`` finds its store)."""


def signer_for(settings: Settings) -> UrlSigner:
    """The signer for URLs the service answers itself (embedded backends)."""
    if settings.STORAGE_SIGNING_SECRET is not None:
        secret = settings.STORAGE_SIGNING_SECRET.get_secret_value()
    else:
        secret = load_or_create_secret(settings.data_dir, "STORAGE_SIGNING_SECRET")
    return UrlSigner(secret, settings.service_url)


def open_store(settings: Settings) -> ObjectStore:
    """The store the settings choose (see :attr:`Settings.backend`)."""
    backend = settings.backend
    if backend is BackendKind.s3:
        secret = settings.R2_SECRET_ACCESS_KEY
        return S3Store(
            bucket=settings.R2_BUCKET_NAME,
            endpoint_url=settings.R2_ENDPOINT_URL,
            access_key_id=settings.R2_ACCESS_KEY_ID,
            secret_access_key=secret.get_secret_value() if secret else None,
            region=settings.R2_REGION,
            flavor=settings.STORAGE_S3_FLAVOR,  # type: ignore[arg-type]
        )
    if backend is BackendKind.memory:
        return MemoryStore(signer=signer_for(settings))
    return LocalStore(settings.data_dir / "store", signer=signer_for(settings))


def open_datasets_folder(settings: Settings) -> ObjectStore:
    """The ``local://`` datasets store: ``DATASETS_LOCAL_PATH`` (default
    ``<STORAGE_DATA_DIR>/datasets``), a folder beside the content store's, never inside it
    (the content store's orphan scan and sweep would see it); in memory on the memory backend."""
    if settings.backend is BackendKind.memory:
        return MemoryStore(signer=signer_for(settings).for_zone(DATASETS_ZONE))
    path = settings.datasets_local_path
    content = (settings.data_dir / "store").absolute()
    if path == content or content in path.parents or path in content.parents:
        raise ConfigurationError(
            f"DATASETS_LOCAL_PATH {str(path)!r} overlaps the content store's folder "
            f"{str(content)!r}; datasets need a folder of their own"
        )
    return LocalStore(path, signer=signer_for(settings).for_zone(DATASETS_ZONE))


def open_datasets_bucket(settings: Settings, bucket: str) -> S3Store:
    """The store of one dataset bucket (a repository's ``s3://bucket/…`` namespace or an
    import source): ``DATASETS_S3_*`` settings, else the AWS chain (credentials and region
    from the environment, profile or instance role, as lakeFS's S3 blockstore)."""
    secret = settings.DATASETS_S3_SECRET_ACCESS_KEY
    region = settings.DATASETS_S3_REGION
    if region is None:
        import boto3

        region = boto3.session.Session().region_name or "auto"
    return S3Store(
        bucket=bucket,
        endpoint_url=settings.DATASETS_S3_ENDPOINT,
        access_key_id=settings.DATASETS_S3_ACCESS_KEY_ID,
        secret_access_key=secret.get_secret_value() if secret else None,
        region=region,
        flavor=None if settings.DATASETS_S3_ENDPOINT else "aws",
    )
